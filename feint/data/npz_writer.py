"""A ``.npz`` written batch by batch: each array's rows go to a scratch file as they come, and the
archive is assembled at the end (member by member, compressed) under a temporary name, then renamed.

Memory holds one batch, whatever the number of rows; a run that stops half-way leaves no archive.
The result is an ordinary ``np.savez_compressed`` archive: ``np.load(path)`` reads it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from feint.io import write_with


class NpzWriter:
    """``append(name=rows, ...)`` per batch (the same names each time), then :meth:`save`."""

    def __init__(self) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="feint-npz-")
        self._meta: dict[str, tuple[tuple[int, ...], np.dtype, int]] = {}

    def append(self, **arrays: np.ndarray) -> None:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            shape, dtype, n = self._meta.get(name, (a.shape[1:], a.dtype, 0))
            if a.shape[1:] != shape or a.dtype != dtype:
                raise ValueError(f"{name}: rows of {a.shape[1:]} {a.dtype} after {shape} {dtype}")
            with open(Path(self._scratch.name) / f"{name}.raw", "ab") as handle:
                handle.write(a.tobytes())
            self._meta[name] = (shape, dtype, n + (a.shape[0] if a.ndim else 1))

    def save(self, path: str | os.PathLike[str], **scalars: np.ndarray) -> Path:
        """Write every appended array (and ``scalars``, whole) to the ``.npz`` at ``path``, atomically."""

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for name, (shape, dtype, n) in self._meta.items():
                    header = {
                        "descr": np.lib.format.dtype_to_descr(dtype),
                        "fortran_order": False,
                        "shape": (n, *shape),
                    }
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array_header_2_0(member, header)
                        with open(Path(self._scratch.name) / f"{name}.raw", "rb") as raw:
                            shutil.copyfileobj(raw, member, 1 << 20)
                for name, value in scalars.items():
                    with archive.open(f"{name}.npy", "w") as member:
                        np.lib.format.write_array(member, np.asarray(value))

        try:
            return write_with(path, write)
        finally:
            self._scratch.cleanup()
