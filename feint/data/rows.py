"""A streamed source copied once to a file and read back by index: inputs that never sit in memory whole.

:func:`spool` reads a :class:`~feint.data.stream.Source` batch by batch (decoding in its workers),
checks every batch, and appends the pixels as they come (uint8 pixels stay uint8, four times
smaller than floats) to a :class:`~feint.data.rowfile.RowFile`; the labels, one integer per input,
stay in memory. :class:`Rows` then gives ``rows[idx]`` -> (b, C, H, W) float32 tensors on its
device, the same numbers a loaded :class:`~feint.data.dataset.Dataset` holds, at the cost of a read.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint.data.dataset import DatasetInfo
from feint.data.rowfile import RowFile
from feint.data.stream import DEFAULT_BATCH, Source, completed, unit
from feint.errors import DataError


class Rows:
    """(N, C, H, W) float32 inputs in a file: ``rows[idx]`` (an index tensor, a slice or an int) reads them.

    Quacks like the tensor it stands for where a per-batch consumer needs it (``shape``, ``dtype``,
    ``device``, ``len``, indexing); :meth:`materialize` gives the tensor for the few that need every
    row at once."""

    def __init__(self, store: RowFile, *, device: torch.device, digest: str, keep: Any = None) -> None:
        self.store, self.device, self.digest = store, device, digest
        self._keep = keep  # the temporary folder that holds the file, removed with the last reference
        self.shape = torch.Size((store.n, *store.shape))
        self.dtype = torch.float32

    def __len__(self) -> int:
        return self.store.n

    def __getitem__(self, key: Tensor | slice | int) -> Tensor:
        if isinstance(key, slice):
            key = torch.arange(self.store.n)[key]
        elif isinstance(key, int):
            return self[torch.tensor([key])][0]
        if key.dtype == torch.bool:
            key = key.nonzero().squeeze(1)
        return unit(self.store.read(0, key.cpu())).to(self.device)

    def to(self, device: torch.device | str) -> Rows:
        return Rows(self.store, device=torch.device(device), digest=self.digest, keep=self._keep)

    def materialize(self) -> Tensor:
        """Every row, in memory."""
        return self[slice(None)]

    def close(self) -> None:
        """Close the file (and remove the temporary folder :func:`spool` made for it)."""
        self.store.close()
        if isinstance(self._keep, tempfile.TemporaryDirectory):
            self._keep.cleanup()


Inputs = Tensor | Rows


def whole(x: Inputs) -> Tensor:
    """Every input as a tensor in memory (a tensor as it is): for the few steps that need them all at once."""
    return x.materialize() if isinstance(x, Rows) else x


@dataclass(frozen=True)
class Spooled:
    """A spooled source: its inputs (:class:`Rows`), labels (N,), info and the files it skipped."""

    x: Rows
    y: Tensor
    info: DatasetInfo
    split: str
    notes: tuple[str, ...] = ()


def spool(
    source: Source,
    folder: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
    limit: int | None = None,
) -> Spooled:
    """Copy (the first ``limit`` inputs of) ``source`` to ``folder/inputs.bin`` batch by batch (memory
    holds one batch); without ``folder``, to a temporary folder removed by :meth:`Rows.close`."""
    keep = tempfile.TemporaryDirectory(prefix="feint-inputs-") if folder is None else None
    path = Path(keep.name if keep is not None else str(folder)) / "inputs.bin"
    h = hashlib.sha256()
    labels: list[Tensor] = []
    shape: tuple[int, ...] | None = None
    dtype = torch.uint8
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for x, y in source.checked_batches(batch_size, workers):
            if limit is not None:
                x, y = x[: limit - n], y[: limit - n]
            shape, dtype = tuple(x.shape[1:]), x.dtype if x.dtype == torch.uint8 else torch.float32
            data = x.to(dtype).contiguous().view(torch.uint8).numpy().tobytes()
            os.write(fd, data)
            h.update(data)
            labels.append(y)
            n += x.shape[0]
            if limit is not None and n >= limit:
                break
    finally:
        os.close(fd)
    if shape is None or n == 0:
        raise DataError(f"{source.info.source or source.info.name} yielded no inputs; check the data source")
    y_all = torch.cat(labels)
    h.update(y_all.numpy().tobytes())
    h.update(str((shape, dtype)).encode())
    store = RowFile(path, slots=1, n=n, shape=shape, dtype=dtype).open()
    assert store is not None and store.size == n * math.prod(shape) * dtype.itemsize
    info = completed(source.info, shape, y_all)
    note = source.skipped.note()
    return Spooled(
        Rows(store, device=torch.device("cpu"), digest=h.hexdigest(), keep=keep),
        y_all,
        info,
        source.split,
        (note,) if note else (),
    )
