"""A folder of ``.npz`` shards read one shard at a time: ``root/*.npz``, each with arrays ``x`` and ``y``.

Every shard is read with ``allow_pickle=False`` and checked as a single ``.npz`` is
(:mod:`feint.data.npz`: NCHW/NHWC/NHW layouts, uint8 or floats in [0, 1], class indices or one-hot);
shards are taken in sorted name order. The labels of every shard are read first (they are small):
they give the number of inputs, the classes (``class_names`` in the first shard, else the largest
label + 1) and the split. Only the shards that hold a picked row are opened for their pixels.
A shard that cannot be read stops the stream (``on_bad_file="stop"``) or is skipped and counted.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from feint.data.dataset import DatasetInfo, check_split, split_indices
from feint.data.limits import check_class_count
from feint.data.npz import checked_pair, read_arrays, to_labels, to_nchw
from feint.data.stream import ON_BAD_FILE, Skipped, Source, pick
from feint.errors import DataError


def is_shard_folder(path: str | os.PathLike[str]) -> bool:
    """A folder that holds ``.npz`` files and no class sub-folders."""
    p = Path(path)
    return p.is_dir() and any(p.glob("*.npz")) and not any(d.is_dir() for d in p.iterdir())


class ShardSource(Source):
    """The rows of ``root/*.npz`` (``split``: the fixed 80/20 split over all rows, or ``"all"``)."""

    def __init__(self, root: str | os.PathLike[str], split: str = "all", *, on_bad_file: str = "stop") -> None:
        check_split(split)
        if on_bad_file not in ON_BAD_FILE:
            raise DataError(f"on_bad_file={on_bad_file!r}; use one of {', '.join(ON_BAD_FILE)}")
        self.root, self.split, self.on_bad_file, self.skipped = Path(root), split, on_bad_file, Skipped()
        self.shards = sorted(self.root.glob("*.npz"))
        if not self.shards:
            raise DataError(f"no .npz shards in {self.root}; save each shard with np.savez(path, x=..., y=...)")
        labels, owner = [], []
        for s, path in enumerate(self.shards):
            y = self._labels(path)
            labels.append(y)
            owner.append(np.full(len(y), s))
        y_all = np.concatenate(labels)
        if y_all.size == 0:
            raise DataError(f"the shards in {self.root} hold no inputs; store at least one")
        # row r of the stream: shard owner[r], row within it offset[r]
        self.owner = np.concatenate(owner)
        self.offset = np.concatenate([np.arange(len(y)) for y in labels])
        self.rows = split_indices(y_all, split)
        self.labels = y_all
        self.first = next(p for p, y in zip(self.shards, labels, strict=True) if len(y))
        first = read_arrays(self.first, ("x", "class_names"))
        shape = to_nchw(first["x"], where=str(self.first)).shape[1:]
        self.dtype = first["x"].dtype
        if "class_names" in first:
            names = tuple(str(n) for n in np.asarray(first["class_names"]).ravel())
        else:
            check_class_count(int(y_all.max()), where=str(self.root))
            names = tuple(str(i) for i in range(int(y_all.max()) + 1))
        self.info = DatasetInfo(self.root.name, names, tuple(int(v) for v in shape), source=str(self.root))  # type: ignore[arg-type]

    def _labels(self, path: Path) -> np.ndarray:
        try:
            arrays = read_arrays(path, ("y",))
            if "y" not in arrays:
                raise DataError(f"{path} has no array 'y' (labels); save each shard with np.savez(path, x=..., y=...)")
            return to_labels(arrays["y"], len(arrays["y"]), where=f"{path}: y")
        except DataError as exc:
            return self._bad(path, exc, np.zeros(0, dtype=np.int64))

    def _bad(self, path: Path, exc: DataError, empty: np.ndarray) -> np.ndarray:
        if self.on_bad_file == "stop":
            raise DataError(
                f"{exc}; or skip unreadable shards (--on-bad-file skip, on_bad_file='skip' in Python)"
            ) from None
        self.skipped.files.append(str(path))
        return empty

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, n: int | None, seed: int = 0) -> Source:
        picked = copy.copy(self)
        picked.rows = self.rows[pick(len(self), n, seed)]
        picked.skipped = Skipped()
        return picked

    def raw_batches(self, batch_size: int, workers: int) -> Iterator[tuple[Tensor, Tensor]]:
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        held = 0
        order = np.argsort(self.owner[self.rows], kind="stable")
        rows = self.rows[order]
        for s in np.unique(self.owner[rows]):
            mine = rows[self.owner[rows] == s]
            try:
                x, y = checked_pair(read_arrays(self.shards[s], ("x", "y")), "x", "y", self.shards[s])
            except DataError as exc:
                self._bad(self.shards[s], exc, np.zeros(0))
                continue
            if x.shape[1:] != self.info.input_shape or x.dtype != self.dtype:
                raise DataError(
                    f"{self.shards[s]} holds inputs of shape {x.shape[1:]} and dtype {x.dtype} but {self.first} "
                    f"holds {self.info.input_shape}, {self.dtype}; every shard must hold inputs of one shape and dtype"
                )
            xs.append(x[self.offset[mine]])
            ys.append(y[self.offset[mine]])
            held += len(mine)
            while held >= batch_size:
                x_all, y_all = np.concatenate(xs), np.concatenate(ys)
                yield _tensors(x_all[:batch_size], y_all[:batch_size])
                xs, ys, held = [x_all[batch_size:]], [y_all[batch_size:]], held - batch_size
        if held:
            yield _tensors(np.concatenate(xs), np.concatenate(ys))


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
