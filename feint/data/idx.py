"""MNIST and Fashion-MNIST from IDX files (gzipped or not), decoded with NumPy, no network.

MNIST: LeCun, Bottou, Bengio, Haffner (1998), "Gradient-based learning applied to document
recognition". Fashion-MNIST: Xiao, Rasul, Vollgraf (2017), "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms". Both ship as four IDX files: a header (two zero bytes, a
dtype code, the number of dimensions, then each dimension as a big-endian uint32) followed by the
raw array. Images are uint8 (N, 28, 28); labels uint8 (N,). The loader returns x (N, 1, 28, 28)
float32 in [0, 1] and y (N,) int64; "all" is train followed by test.

Files are looked for in the explicit ``path``, else ``$FEINT_DATA_DIR/<name>``, ``$FEINT_DATA_DIR``
and the Debian folder (``/usr/share/datasets/<name>``, package ``dataset-fashion-mnist``). Decoded
arrays are cached in-process, keyed by resolved path, size and modification time.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from feint.data.dataset import Dataset, DatasetInfo, check_split, join_split, unit_pixels
from feint.data.limits import check_declared_size
from feint.data.locate import FileKey, file_key, first_found, not_found, search_dirs
from feint.errors import DataError

CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
SYSTEM_DIRS = {name: (Path("/usr/share/datasets") / name,) for name in CLASS_NAMES}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX type codes (LeCun's format description); multi-byte values are big-endian.
IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
REDOWNLOAD = "the file is corrupt or truncated: re-download it"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_idx(stream: _Readable, *, source: str, size: int | None = None) -> np.ndarray:
    """Decode one IDX stream into a read-only array of its declared dtype and shape.

    The header is read first; the data it declares is checked against the limit (and against
    ``size``, the stream's length when known) before it is read, and the stream must end right after it.
    """
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES or magic[3] == 0:
        raise DataError(f"{source} is not an IDX file (bad magic number {magic.hex() or 'none'}); {REDOWNLOAD}")
    ndim = magic[3]
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{source} ends inside its IDX header; {REDOWNLOAD}")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, ">u4"))
    dtype = np.dtype(IDX_DTYPES[magic[2]])
    declared = math.prod(dims) * dtype.itemsize
    held = None if size is None else size - 4 - 4 * ndim
    if held is not None and held != declared:
        raise _mismatch(source, held, dims, declared)
    check_declared_size(declared, where=source)
    data = stream.read(declared + 1)
    if len(data) != declared:
        raise _mismatch(source, len(data), dims, declared)
    return np.frombuffer(data, dtype).reshape(dims)


def _mismatch(source: str, held: int, dims: tuple[int, ...], declared: int) -> DataError:
    holds = "more data than" if held > declared else f"{held} data bytes but"
    return DataError(f"{source} holds {holds} its header declares (shape {dims}, {declared} bytes); {REDOWNLOAD}")


@lru_cache(maxsize=8)
def _read_idx(key: FileKey) -> np.ndarray:
    path, size = key[0], key[1]
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        if not gzipped:
            return read_idx(handle, source=path, size=size)
        try:
            with gzip.GzipFile(fileobj=handle) as stream:
                return read_idx(stream, source=path)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path} is a damaged gzip file ({exc}); {REDOWNLOAD}") from exc


def _find_file(folder: Path, base: str) -> Path | None:
    stem, _, kind = base.rpartition("-idx")
    for name in (base, f"{stem}.idx{kind}"):  # some mirrors write train-images.idx3-ubyte
        for suffix in ("", ".gz"):
            if (folder / (name + suffix)).is_file():
                return folder / (name + suffix)
    return None


def _find_files(folder: Path, bases: tuple[str, ...]) -> tuple[Path, ...] | None:
    found = tuple(_find_file(folder, b) for b in bases)
    return None if any(p is None for p in found) else found  # type: ignore[return-value]


def _read_pair(images: Path, labels: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _read_idx(file_key(images)), _read_idx(file_key(labels))
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{images} holds {x.dtype} data of shape {x.shape}, not uint8 images (N, H, W); {REDOWNLOAD}")
    if y.ndim != 1 or y.dtype != np.uint8:
        raise DataError(f"{labels} holds {y.dtype} data of shape {y.shape}, not uint8 labels (N,); {REDOWNLOAD}")
    if len(x) != len(y):
        raise DataError(
            f"{images} has {len(x)} images but {labels} has {len(y)} labels; "
            "one of them is truncated or from another release: re-download both"
        )
    if len(y) and int(y.max()) >= num_classes:
        raise DataError(f"{labels} has label {int(y.max())}, expected 0..{num_classes - 1}; {REDOWNLOAD}")
    return x, y


def load_idx_dataset(name: str, split: str, path: str | os.PathLike[str] | None = None) -> Dataset:
    """``name`` is "mnist" or "fashion-mnist"; x (N, 1, 28, 28) float32 in [0, 1], y (N,) int64."""
    if name not in CLASS_NAMES:
        raise DataError(f"unknown IDX dataset {name!r}; use one of {', '.join(CLASS_NAMES)}")
    check_split(split)
    bases = FILES["train"] + FILES["test"] if split == "all" else FILES[split]
    dirs = search_dirs(path, subdirs=(name,), system=() if path is not None else SYSTEM_DIRS[name])
    found = first_found(dirs, lambda d: _find_files(d, bases))
    if found is None:
        how = f"download the four {name} IDX files ({', '.join(FILES['train'] + FILES['test'])}, .gz or not)"
        if name == "fashion-mnist":
            how = f"install them with `sudo apt-get install dataset-fashion-mnist`, or {how}"
        raise not_found(f"{name} files {', '.join(b + '[.gz]' for b in bases)}", dirs, how)
    classes = CLASS_NAMES[name]
    pairs = [_read_pair(found[i], found[i + 1], len(classes)) for i in range(0, len(found), 2)]
    if len(pairs) == 2 and pairs[0][0].shape[1:] != pairs[1][0].shape[1:]:
        raise DataError(f"the train and test images in {found[0].parent} differ in size; {REDOWNLOAD}")
    x, y = pairs[0] if len(pairs) == 1 else join_split(pairs[0], pairs[1], "all")
    info = DatasetInfo(name, classes, (1, x.shape[1], x.shape[2]), source=str(found[0].parent))
    return Dataset(unit_pixels(x[:, None]), torch.from_numpy(y.astype(np.int64)), info, split)
