"""A dataset from a NumPy ``.npz`` file, read with ``allow_pickle=False`` (no code runs on load).

Arrays: ``x`` images and ``y`` labels; optional ``x_test``/``y_test`` (then ``split`` picks one and
"all" joins them) and ``class_names`` (1-D strings). Without test arrays the split is the fixed,
seeded, stratified 80/20 split every feint loader uses; "all" is every sample in file order.

- ``x``: (N, C, H, W), (N, H, W, C) or (N, H, W) with C of 1 or 3; a 4-D array whose second axis
  has 1 or 3 entries is read as NCHW, else as NHWC when its last axis has 1 or 3. uint8 pixels are
  divided by 255; floats must already lie in [0, 1]. Returned as float32 (N, C, H, W).
- ``y``: integer class indices (N,) or one-hot rows (N, K). One-hot is accepted (each row must be
  exactly one 1 among 0s) because many exporters write it; other 2-D labels are refused.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from feint.data.dataset import Dataset, DatasetInfo, check_split, join_split, split_indices, unit_pixels
from feint.data.limits import check_class_count, check_declared_size
from feint.errors import DataError

CHANNELS = (1, 3)


def to_nchw(x: np.ndarray, *, where: str) -> np.ndarray:
    """(N, C, H, W), (N, H, W, C) or (N, H, W) -> (N, C, H, W), C in {1, 3}."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] in CHANNELS:
        return x
    if x.ndim == 4 and x.shape[3] in CHANNELS:
        return x.transpose(0, 3, 1, 2)
    raise DataError(
        f"{where} has shape {x.shape}; store images as (N, C, H, W), (N, H, W, C) or (N, H, W) with 1 or 3 channels"
    )


def check_pixels(x: np.ndarray, *, where: str) -> None:
    """Pixels must be uint8, or finite floats already in [0, 1]."""
    if x.dtype == np.uint8:
        return
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{where} has dtype {x.dtype}; store uint8 pixels (0..255) or floats in [0, 1]")
    if not np.isfinite(x).all():
        raise DataError(f"{where} contains NaN or infinite values; clean the images before saving them")
    if float(x.min()) < 0.0 or float(x.max()) > 1.0:
        raise DataError(
            f"{where} has values in [{float(x.min()):.4g}, {float(x.max()):.4g}]; scale floats into [0, 1] "
            "(e.g. x / 255 for 0..255 pixels) or store uint8 pixels"
        )


def as_unit_tensor(x: np.ndarray) -> Tensor:
    """Checked pixels -> a contiguous float32 tensor in [0, 1]."""
    if x.dtype == np.uint8:
        return unit_pixels(np.ascontiguousarray(x))
    return torch.from_numpy(np.array(x, dtype=np.float32, order="C"))


def to_labels(y: np.ndarray, n: int, *, where: str) -> np.ndarray:
    """Class indices (N,) or one-hot rows (N, K) -> int64 (N,)."""
    if y.ndim == 2 and y.shape[0] == n and y.dtype != np.bool_ and np.issubdtype(y.dtype, np.number):
        if not (((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(
                f"{where} has shape {y.shape} but its rows are not one-hot; store class indices, shape ({n},)"
            )
        return y.argmax(axis=1).astype(np.int64)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where} has shape {y.shape} for {n} images; store one class index per image, shape ({n},)")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where} has dtype {y.dtype}; store integer class indices (e.g. y.astype(np.int64))")
    if n and int(y.min()) < 0:
        raise DataError(f"{where} has a negative label {int(y.min())}; class indices start at 0")
    return y.astype(np.int64)


def read_arrays(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` (only ``keys`` when given), checked before any is read."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{path} holds a single array, not a .npz archive; save it with np.savez(path, x=..., y=...)")
    if not magic.startswith(b"PK"):
        raise DataError(
            f"{path} is not a .npz archive (no zip header); save the data with np.savez(path, x=..., y=...)"
        )
    try:
        _check_members(path)
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files if keys is None or k in keys}
    except ValueError as exc:  # object arrays and pickles need pickle, which is refused
        raise DataError(f"{path} is not a .npz of plain arrays ({exc}); save numeric arrays with np.savez") from exc
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"cannot read {path} ({exc}); the file is damaged or not a .npz: re-create it") from exc


def _check_members(path: Path) -> None:
    """From the zip directory and each ``.npy`` header, before reading any array: the declared sizes must
    fit in the member and under the limit, and no array may hold Python objects."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            where = f"{path}: member {info.filename}"
            check_declared_size(info.file_size, where=where)
            total += info.file_size
            check_declared_size(total, where=f"{path} (all members)")
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0)):
                    raise DataError(f"{where} has .npy format {version}; save the arrays with np.savez")
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(member)
                if dtype.hasobject:
                    raise DataError(
                        f"{path} is not a .npz of plain arrays ({where} holds Python objects, which need pickle)"
                    )
                declared = math.prod(shape) * dtype.itemsize
                if declared > info.file_size:
                    raise DataError(
                        f"{where} declares an array of shape {shape} ({declared:,} bytes) but holds "
                        f"{info.file_size:,} bytes; the file is damaged: re-create it with np.savez"
                    )


def checked_pair(arrays: dict[str, np.ndarray], xkey: str, ykey: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    x = to_nchw(arrays[xkey], where=f"{path}: {xkey}")
    if len(x) == 0:
        raise DataError(f"{path}: {xkey} holds no images; store at least one")
    check_pixels(x, where=f"{path}: {xkey}")
    return x, to_labels(arrays[ykey], len(x), where=f"{path}: {ykey}")


def class_names(arrays: dict[str, np.ndarray], y: np.ndarray, path: Path) -> tuple[str, ...]:
    if "class_names" not in arrays:
        check_class_count(int(y.max()), where=str(path))
        return tuple(str(i) for i in range(int(y.max()) + 1))
    names = tuple(str(n) for n in np.asarray(arrays["class_names"]).ravel())
    if int(y.max()) >= len(names):
        raise DataError(f"{path} has label {int(y.max())} but only {len(names)} class_names; add the missing names")
    return names


def load_npz(path: str | os.PathLike[str], split: str) -> Dataset:
    """x (N, C, H, W) float32 in [0, 1] and y (N,) int64 from the arrays of a ``.npz`` file."""
    check_split(split)
    path = Path(path)
    arrays = read_arrays(path)
    if "x" not in arrays or "y" not in arrays:
        found = ", ".join(sorted(arrays)) or "none"
        raise DataError(
            f"{path} needs arrays 'x' (images) and 'y' (labels); found: {found}. Save with np.savez(..., x=..., y=...)"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path} has only one of 'x_test' and 'y_test'; store both or neither")
    train = checked_pair(arrays, "x", "y", path)
    if "x_test" in arrays:
        test = checked_pair(arrays, "x_test", "y_test", path)
        if test[0].shape[1:] != train[0].shape[1:]:
            raise DataError(f"{path}: x_test images are {test[0].shape[1:]} but x images are {train[0].shape[1:]}")
        x, y = join_split(train, test, split)
        names = class_names(arrays, np.concatenate([train[1], test[1]]), path)
    else:
        idx = split_indices(train[1], split)
        x, y = train[0][idx], train[1][idx]
        names = class_names(arrays, train[1], path)
    c, h, w = x.shape[1:]
    info = DatasetInfo(path.stem, names, (int(c), int(h), int(w)), source=str(path))
    return Dataset(as_unit_tensor(x), torch.from_numpy(y), info, split)
