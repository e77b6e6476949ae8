"""Shared fixtures: the digits data and small models trained on it once per session."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see feint/__init__.py

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
def distilled_digits(digits_train: Dataset) -> nn.Module:
    """A convnet defensively distilled at T = 100 (Papernot et al. 2016): teacher and student 8 epochs each."""
    settings = {"epochs": 8, "lr": 1e-2, "batch_size": 32, "seed": 0}
    return train(
        "convnet", digits_train, recipe="distill", recipe_options={"temperature": 100.0}, progress=False, **settings
    ).model
