"""The dataset type every loader returns: float tensors in [0, 1], NCHW, integer labels, metadata."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor


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

    def sample(self, n: int | None, *, seed: int = 0) -> Dataset:
        """``n`` samples drawn without replacement with a fixed seed (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return replace(self, x=self.x[idx], y=self.y[idx])
