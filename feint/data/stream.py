"""Data read in batches, never whole: an image folder, a folder of ``.npz`` shards, a torch Dataset.

A :class:`Source` yields ``(x, y)`` batches: x (b, C, H, W) float32 in [0, 1], y (b,) int64, in a
fixed order. Decoding runs in DataLoader workers (``workers``). A seeded subset (:meth:`Source.subset`)
picks files or rows before anything is read, and keeps them in the source's order. Every batch is
checked against the first: a source that changes shape or dtype mid-stream, or yields pixels outside
[0, 1], stops with one :class:`~feint.errors.DataError` naming the batch and the fix.

The audit copies a source once to a file (:func:`feint.data.rows.spool`) and reads its rows by index
from there; ``feint attack`` attacks it batch by batch. The other commands materialize a bounded
subset (:meth:`Source.materialize`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset

from feint.data.dataset import Dataset, DatasetInfo
from feint.data.limits import check_declared_size
from feint.errors import DataError

ON_BAD_FILE = ("stop", "skip")
DEFAULT_BATCH = 256


def default_workers() -> int:
    """DataLoader workers that decode: the CPUs this process may use, less one, at most 4."""
    return max(0, min(4, len(os.sched_getaffinity(0)) - 1))


def pick(total: int, n: int | None, seed: int) -> np.ndarray:
    """The indices of a seeded subset of ``n`` of ``total`` items, in their own order (all when n is None)."""
    if n is None or n >= total:
        return np.arange(total)
    if n < 1:
        raise DataError(f"a subset needs at least one input, got n={n}")
    chosen = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
    return np.sort(chosen.numpy())


@dataclass
class Skipped:
    """Files a source skipped because they could not be read (``on_bad_file="skip"``)."""

    files: list[str] = field(default_factory=list)

    def note(self) -> str | None:
        if not self.files:
            return None
        shown = ", ".join(self.files[:3]) + (", ..." if len(self.files) > 3 else "")
        return f"skipped {len(self.files)} unreadable file(s): {shown}"


class Source:
    """Inputs read in batches; subclasses give ``info``, ``__len__`` and :meth:`raw_batches`."""

    info: DatasetInfo
    split: str = "all"
    skipped: Skipped

    def __len__(self) -> int:
        raise NotImplementedError

    def raw_batches(self, batch_size: int, workers: int) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)``: x (b, C, H, W) uint8 pixels or floats in [0, 1], y (b,) int64, unchecked."""
        raise NotImplementedError

    def subset(self, n: int | None, seed: int = 0) -> Source:
        """A seeded subset of ``n`` inputs (files or rows, picked before any is read), in source order."""
        raise NotImplementedError

    def checked_batches(
        self, batch_size: int = DEFAULT_BATCH, workers: int | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """:meth:`raw_batches`, each checked against the first (shape, dtype, pixel range, labels)."""
        first: tuple[tuple[int, ...], torch.dtype] | None = None
        for k, (x, y) in enumerate(self.raw_batches(batch_size, default_workers() if workers is None else workers)):
            first = first or (tuple(x.shape[1:]), x.dtype)
            check_batch(x, y, k, first, self.info)
            yield x, y

    def batches(self, batch_size: int = DEFAULT_BATCH, workers: int | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)``: x (b, C, H, W) float32 in [0, 1], y (b,) int64."""
        for x, y in self.checked_batches(batch_size, workers):
            yield unit(x), y

    def materialize(self, *, workers: int | None = None) -> Dataset:
        """Every input in memory, as a :class:`~feint.data.dataset.Dataset` (refused above the size limit)."""
        c, h, w = self.info.input_shape
        check_declared_size(len(self) * c * h * w, where=self.info.source or self.info.name)
        parts = list(self.batches(workers=workers))
        if not parts:
            raise DataError(f"{self.info.source or self.info.name} yielded no inputs; check the data source")
        x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        return Dataset(x, y, completed(self.info, tuple(x.shape[1:]), y), self.split)

    def preview(self) -> Dataset:
        """The first input alone (to check that a model fits the data before the stream is read)."""
        x, y = next(iter(self.batches(1, workers=0)))
        return Dataset(x, y, self.info, self.split)


def completed(info: DatasetInfo, shape: tuple[int, ...], y: Tensor) -> DatasetInfo:
    """``info`` with the input shape the stream had and, for a source that does not name its classes
    (a user's Dataset without ``classes``), the classes its labels count: 0 .. the largest label."""
    names = info.class_names or tuple(str(i) for i in range(int(y.max()) + 1))
    return replace(info, class_names=names, input_shape=shape)  # type: ignore[arg-type]


def unit(x: Tensor) -> Tensor:
    """uint8 pixels -> float32 in [0, 1] (the same numbers as :func:`feint.data.dataset.unit_pixels`); floats as float32."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def check_batch(x: Tensor, y: Tensor, k: int, first: tuple[tuple[int, ...], torch.dtype], info: DatasetInfo) -> None:
    """Batch ``k`` must look like the first: same input shape and dtype, pixels in [0, 1], labels in range."""
    where = f"batch {k} of {info.source or info.name}"
    shape, dtype = first
    if x.dim() != 4 or tuple(x.shape[1:]) != shape:
        raise DataError(
            f"{where} has inputs of shape {tuple(x.shape[1:])} but the first batch had {shape}; every input of a "
            "source must have one shape (C, H, W): resize them all to one size first"
        )
    if x.dtype != dtype:
        raise DataError(
            f"{where} has dtype {x.dtype} but the first batch had {dtype}; give every input the same dtype "
            "(uint8 pixels 0..255 or floats in [0, 1])"
        )
    if x.dtype != torch.uint8:
        if not x.is_floating_point():
            raise DataError(f"{where} has dtype {x.dtype}; give uint8 pixels (0..255) or floats in [0, 1]")
        if not bool(torch.isfinite(x).all()) or float(x.min()) < 0.0 or float(x.max()) > 1.0:
            raise DataError(
                f"{where} has values outside [0, 1] (or NaN); scale the inputs into [0, 1] (normalisation belongs inside the model)"
            )
    if y.dim() != 1 or y.shape[0] != x.shape[0] or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise DataError(
            f"{where} has labels of shape {tuple(y.shape)}, dtype {y.dtype}; yield one class index per input"
        )
    if y.numel() and int(y.min()) < 0:
        raise DataError(f"{where} has a negative label {int(y.min())}; labels are class indices 0..K-1")
    k_classes = info.num_classes
    if k_classes and y.numel() and int(y.max()) >= k_classes:
        raise DataError(f"{where} has label {int(y.max())} but the source has {k_classes} classes (0..{k_classes - 1})")


def _pair(item: Any, at: int) -> tuple[Tensor, Tensor]:
    """One item of a Dataset, or one batch of a DataLoader, as ``(x, y)`` tensors."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DataError(f"item or batch {at} of the data is a {type(item).__name__}; yield (inputs, labels) pairs")
    x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, Tensor) else v for v in item)
    return x.detach().cpu(), y.detach().cpu().long() if not y.dtype.is_floating_point else y


def _items(items: list[Any]) -> list[Any]:
    """The DataLoader's collate: the items as they are, stacked in the main process (:func:`_stacked`)."""
    return items


def _stacked(items: list[Any], first: int) -> tuple[Tensor, Tensor]:
    """Items ``(x, y)`` from position ``first`` on as one batch; an item of another shape or dtype than
    the first is named (the default collate would fail with a bare RuntimeError)."""
    pairs = [_pair(item, first + i) for i, item in enumerate(items)]
    x0 = pairs[0][0]
    for i, (x, _) in enumerate(pairs):
        if x.shape != x0.shape or x.dtype != x0.dtype:
            raise DataError(
                f"item {first + i} of the dataset is {tuple(x.shape)} {x.dtype} but item {first} is "
                f"{tuple(x0.shape)} {x0.dtype}; every input of a source must have one shape and dtype"
            )
    return torch.stack([x for x, _ in pairs]), torch.stack([y.reshape(()) for _, y in pairs]).long()


class TorchSource(Source):
    """A user's ``torch.utils.data.Dataset`` (items ``(x, y)``: x (C, H, W) float in [0, 1] or uint8,
    y an int) or ``DataLoader`` (batches ``(x, y)``), read as it comes; ``classes`` (names, or their
    number) default to the dataset's ``classes`` attribute."""

    def __init__(
        self,
        data: torch.utils.data.Dataset[Any] | DataLoader[Any],
        *,
        classes: Sequence[str] | int | None = None,
        name: str = "dataset",
        indices: np.ndarray | None = None,
    ) -> None:
        self.data, self.indices, self.skipped = data, indices, Skipped()
        inner = data.dataset if isinstance(data, DataLoader) else data
        classes = classes if classes is not None else getattr(inner, "classes", None)
        names = tuple(str(i) for i in range(classes)) if isinstance(classes, int) else tuple(map(str, classes or ()))
        self.info = DatasetInfo(name, names, (0, 0, 0), source=f"a {type(data).__name__} ({type(inner).__name__})")

    def __len__(self) -> int:
        if self.indices is not None:
            return len(self.indices)
        try:
            return len(self.data)  # type: ignore[arg-type]
        except TypeError:
            raise DataError(f"{self.info.source} has no length; give a map-style Dataset or one with __len__") from None

    def subset(self, n: int | None, seed: int = 0) -> Source:
        if isinstance(self.data, DataLoader):
            raise DataError("a DataLoader decides its own order: pass its Dataset to take a seeded subset")
        return TorchSource(
            self.data, classes=self.info.class_names, name=self.info.name, indices=pick(len(self), n, seed)
        )

    def raw_batches(self, batch_size: int, workers: int) -> Iterator[tuple[Tensor, Tensor]]:
        if isinstance(self.data, DataLoader):
            loader: DataLoader[Any] = self.data
        else:
            data = self.data if self.indices is None else Subset(self.data, self.indices.tolist())
            loader = DataLoader(data, batch_size=batch_size, num_workers=workers, collate_fn=_items)
        for k, item in enumerate(loader):
            yield _pair(item, k) if isinstance(self.data, DataLoader) else _stacked(item, k * batch_size)
