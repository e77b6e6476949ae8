"""The dataset type every loader returns: float tensors in [0, 1], NCHW, integer labels, metadata.

Also the few helpers all loaders share: split names, the fixed seeded 80/20 split, uint8 -> [0, 1].
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from feint.errors import DataError

SPLITS = ("train", "test", "all")
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and an audit need to know about the data."""

    name: str
    class_names: tuple[str, ...]
    input_shape: tuple[int, int, int]
    bounds: tuple[float, float] = (0.0, 1.0)
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class_names": list(self.class_names),
            "input_shape": list(self.input_shape),
            "bounds": list(self.bounds),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInfo:
        return cls(
            name=str(d["name"]),
            class_names=tuple(d["class_names"]),
            input_shape=tuple(d["input_shape"]),  # type: ignore[arg-type]
            bounds=tuple(d.get("bounds", (0.0, 1.0))),  # type: ignore[arg-type]
            source=str(d.get("source", "")),
        )


@dataclass(frozen=True)
class Dataset:
    """``x``: (N, C, H, W) float32 in ``info.bounds``; ``y``: (N,) int64 in [0, num_classes)."""

    x: Tensor
    y: Tensor
    info: DatasetInfo
    split: str = "all"

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def head(self, n: int | None) -> Dataset:
        """The first ``n`` samples (all of them when ``n`` is None)."""
        if n is None:
            return self
        return replace(self, x=self.x[:n], y=self.y[:n])

    def fingerprint(self) -> str:
        """sha256 over the pixels, the labels and the class names: the same data, wherever it was read from."""
        h = hashlib.sha256(json.dumps([list(self.info.class_names), list(self.info.input_shape)]).encode())
        for t in (self.x, self.y):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def sample(self, n: int | None, *, seed: int = 0) -> Dataset:
        """``n`` samples drawn without replacement with a fixed seed (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return replace(self, x=self.x[idx], y=self.y[idx])


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def split_indices(
    y: np.ndarray, split: str, *, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
) -> np.ndarray:
    """Indices of ``split`` in a fixed, seeded train/test split of labels ``y`` (N,).

    Stratified by class when every class has at least two samples, plain random otherwise;
    ``"all"`` is every index in order.
    """
    check_split(split)
    n = len(y)
    if split == "all":
        return np.arange(n)
    if n < 2:
        raise DataError(f"a dataset of {n} sample(s) cannot be split into train and test; use split='all'")
    from sklearn.model_selection import train_test_split  # lazy: sklearn is slow to import

    idx = np.arange(n)
    try:
        train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)
    except ValueError:  # a class too small to stratify: fall back to a plain seeded split
        train, test = train_test_split(idx, test_size=test_fraction, random_state=seed)
    return np.asarray(train if split == "train" else test)


def join_split(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], split: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of ``split`` for data that ships as separate train and test sets; ``"all"`` = both."""
    check_split(split)
    if split == "all":
        return np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])
    return train if split == "train" else test


def unit_pixels(x: np.ndarray) -> Tensor:
    """uint8 pixels (any shape) -> float32 tensor in [0, 1], always a fresh writable copy."""
    return torch.from_numpy(np.divide(x, 255, dtype=np.float32))
