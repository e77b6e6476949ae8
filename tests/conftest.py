"""Shared fixtures: the digits data and small models trained on it once per session."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from feint.data import Dataset, load
from feint.models import create_model


def fit(model: nn.Module, data: Dataset, *, epochs: int, seed: int = 0, lr: float = 3e-3) -> nn.Module:
    """A plain, seeded training loop for test fixtures."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data), 64):
            idx = order[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(data.x[idx]), data.y[idx]).backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def digits_train() -> Dataset:
    return load("digits", "train")


@pytest.fixture(scope="session")
def digits_test() -> Dataset:
    return load("digits", "test")


@pytest.fixture(scope="session")
def lenet_digits(digits_train: Dataset) -> nn.Module:
    torch.manual_seed(0)
    model = create_model("lenet", input_shape=(1, 8, 8), num_classes=10)
    return fit(model, digits_train, epochs=12)


@pytest.fixture(scope="session")
def softmax_digits(digits_train: Dataset) -> nn.Module:
    torch.manual_seed(0)
    model = create_model("softmax", input_shape=(1, 8, 8), num_classes=10)
    return fit(model, digits_train, epochs=30, lr=1e-2)
