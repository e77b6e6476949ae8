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


@pytest.fixture(scope="session")
def mutation_detector(lenet_digits: nn.Module, digits_train: Dataset):  # type: ignore[no-untyped-def]
    """NAI mutation testing on the digits LeNet: a small pool, fitted on 400 training inputs."""
    from feint.detectors import MutationDetector

    return MutationDetector(lenet_digits, rate=0.05, n_mutants=60).fit(digits_train.x[:400], digits_train.y[:400])


@pytest.fixture(scope="session")
def kde_detector(lenet_digits: nn.Module, digits_train: Dataset):  # type: ignore[no-untyped-def]
    """Kernel density + Bayesian uncertainty on the digits LeNet (dropout inserted before its dense layers)."""
    from feint.detectors import DensityUncertaintyDetector

    return DensityUncertaintyDetector(lenet_digits).fit(digits_train.x, digits_train.y)
