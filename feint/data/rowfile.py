"""Rows of one shape in a file, written and read by index: data that must not live in memory.

One file holds ``slots x N`` rows of one shape and dtype. Reads and writes go through the file
(``os.pread``/``os.pwrite``), not a memory map, so the rows live in the page cache and never in the
process's memory; the file is sparse until written. The audit keeps its worst-case points in one
(:class:`feint.capabilities.audit.points.PointStore`) and a streamed data source its inputs
(:class:`feint.data.rows.Rows`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Self

import numpy as np
import torch
from torch import Tensor


def _runs(rows: np.ndarray) -> list[tuple[int, int, int]]:
    """``(position, first row, count)`` of each run of consecutive rows in sorted ``rows``."""
    if rows.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [rows.size]])
    return [(int(s), int(rows[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


class RowFile:
    """Rows of shape ``shape`` and ``dtype`` in ``slots x n`` places of the file at ``path``."""

    def __init__(self, path: str | Path, *, slots: int, n: int, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.path, self.slots, self.n, self.shape, self.dtype = Path(path), slots, n, tuple(shape), dtype
        self.row_bytes = math.prod(self.shape) * torch.empty((), dtype=dtype).element_size()
        self.size = slots * n * self.row_bytes
        self._fd: int | None = None
        self._pending = False

    def create(self) -> Self:
        """A new, empty (sparse) file of the right size, replacing any file at ``path``; made when
        the first point is written (an audit stopped before that leaves nothing behind)."""
        self._pending = True
        return self

    def keep(self) -> None:
        """Make sure the file exists (the saved state names it, written or not)."""
        self._file()

    def _file(self) -> int:
        if self._fd is None and self._pending:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
            os.ftruncate(self._fd, self.size)
            self._pending = False
        assert self._fd is not None, "open or create the store first"
        return self._fd

    def open(self) -> Self | None:
        """The existing file when it has the expected size, else None."""
        if not self.path.is_file() or self.path.stat().st_size != self.size:
            return None
        self._fd = os.open(self.path, os.O_RDWR)
        return self

    def _offset(self, slot: int, row: int) -> int:
        if not 0 <= slot < self.slots:
            raise IndexError(f"slot {slot} outside 0..{self.slots - 1}")
        return (slot * self.n + row) * self.row_bytes

    def write(self, slot: int, rows: Tensor, points: Tensor) -> None:
        """Store ``points[j]`` as row ``rows[j]`` of ``slot`` (rows (b,), points (b, *shape))."""
        if rows.numel() == 0:
            return
        fd = self._file()
        order = rows.cpu().argsort()
        index = rows.cpu()[order].numpy()
        data = points.detach().to(device="cpu", dtype=self.dtype)[order].contiguous().view(torch.uint8).numpy()
        flat = data.reshape(index.size, self.row_bytes)
        for pos, first, count in _runs(index):
            os.pwrite(fd, flat[pos : pos + count].tobytes(), self._offset(slot, first))

    def read(self, slot: int, rows: Tensor) -> Tensor:
        """The points at ``rows`` of ``slot`` as a CPU tensor (b, *shape), in the order of ``rows``."""
        fd = self._file()
        order = rows.cpu().argsort()
        index = rows.cpu()[order].numpy()
        buf = bytearray(index.size * self.row_bytes)
        for pos, first, count in _runs(index):
            chunk = os.pread(fd, count * self.row_bytes, self._offset(slot, first))
            buf[pos * self.row_bytes : (pos + count) * self.row_bytes] = chunk
        ordered = torch.frombuffer(buf, dtype=self.dtype).view(index.size, *self.shape) if buf else None
        out = torch.empty((index.size, *self.shape), dtype=self.dtype)
        if ordered is not None:
            out[order] = ordered
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
