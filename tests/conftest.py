"""Shared fixtures: the digits data and small models trained on it once per session."""

from __future__ import annotations

import pytest
from torch import nn

from feint.data import Dataset, load
from feint.training import train


@pytest.fixture(scope="session")
def digits_train() -> Dataset:
    return load("digits", "train")


@pytest.fixture(scope="session")
def digits_test() -> Dataset:
    return load("digits", "test")


@pytest.fixture(scope="session")
def lenet_digits(digits_train: Dataset) -> nn.Module:
    return train("lenet", digits_train, epochs=12, lr=3e-3, seed=0, progress=False).model


@pytest.fixture(scope="session")
def softmax_digits(digits_train: Dataset) -> nn.Module:
    return train("softmax", digits_train, epochs=30, lr=1e-2, seed=0, progress=False).model


@pytest.fixture
def one_thread():
    """One torch thread for tests of small batches: faster, and no stalls when other jobs share the CPUs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
