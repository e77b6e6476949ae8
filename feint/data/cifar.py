"""CIFAR-10 from its python batches, unpickled without executing any code from the files.

Krizhevsky (2009), "Learning Multiple Layers of Features from Tiny Images". The folder
``cifar-10-batches-py`` holds ``data_batch_1`` .. ``data_batch_5`` (train), ``test_batch`` and
``batches.meta``; each batch is a pickled dict with ``data`` (uint8 (N, 3072), channel-major rows of
a 32x32 RGB image) and ``labels`` (N ints in 0..9). The loader returns x (N, 3, 32, 32) float32 in
[0, 1] and y (N,) int64; "all" is train followed by test.

Pickle runs whatever callables a file names, so the unpickler here resolves only the few globals
NumPy needs to rebuild a plain array (and ``_codecs.encode``, which Python 3 uses for bytes under
protocol 2); any other global is refused with a :class:`DataError` before it can run.
"""

from __future__ import annotations

import codecs
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from feint.data.dataset import Dataset, DatasetInfo, check_split, unit_pixels
from feint.data.limits import check_declared_size
from feint.data.locate import FileKey, file_key, first_found, not_found, search_dirs
from feint.errors import DataError

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
META_FILE = "batches.meta"
FOLDER = "cifar-10-batches-py"
# Take the array rebuilders from NumPy itself, whatever module path this version pickles them under.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    **{(m, "_reconstruct"): _RECONSTRUCT for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): _FROMBUFFER for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
REDOWNLOAD = "the file is corrupt or not a CIFAR-10 python batch: re-download cifar-10-python.tar.gz and extract it"


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build dicts, lists, strings, numbers and NumPy arrays, nothing else."""

    def __init__(self, file: Any, *, source: str) -> None:
        super().__init__(file, encoding="latin1")  # the batches were written by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to unpickle {module}.{name} from {self.source}: CIFAR-10 batches hold only "
                f"arrays, lists and strings, so this file may be malicious; {REDOWNLOAD}"
            ) from None


def safe_unpickle(path: Path) -> Any:
    """Unpickle ``path`` allowing only plain containers and NumPy arrays (and no file over the size limit)."""
    check_declared_size(path.stat().st_size, where=str(path))
    try:
        with path.open("rb") as f:
            return _ArrayOnlyUnpickler(f, source=str(path)).load()
    except DataError:
        raise
    except Exception as exc:  # pickle raises many types on damaged input
        raise DataError(f"cannot unpickle {path} ({type(exc).__name__}: {exc}); {REDOWNLOAD}") from exc


@lru_cache(maxsize=8)
def _read_batch(key: FileKey) -> tuple[np.ndarray, np.ndarray]:
    path = Path(key[0])
    batch = safe_unpickle(path)
    if isinstance(batch, dict):
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DataError(f"{path} is not a dict with 'data' and 'labels'; {REDOWNLOAD}")
    x, y = batch["data"], np.asarray(batch["labels"])
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' is not a uint8 array (N, 3072); {REDOWNLOAD}")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path} has {len(x)} images but its 'labels' are not {len(x)} integers; {REDOWNLOAD}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(CLASS_NAMES)):
        raise DataError(f"{path} has labels outside 0..9; {REDOWNLOAD}")
    return x.reshape(-1, 3, 32, 32), y.astype(np.int64)


def _class_names(folder: Path) -> tuple[str, ...]:
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        return CLASS_NAMES
    meta = safe_unpickle(meta_path)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        raise DataError(f"{meta_path} has no list of 10 'label_names'; {REDOWNLOAD}")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


def _read_files(folder: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    batches = [_read_batch(file_key(folder / n)) for n in names]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def load_cifar10(split: str, path: str | os.PathLike[str] | None = None) -> Dataset:
    """CIFAR-10: x (N, 3, 32, 32) float32 in [0, 1], y (N,) int64; train 50,000, test 10,000."""
    check_split(split)
    if path is not None and str(path).endswith((".tar.gz", ".tgz")):
        raise DataError(f"{path} is the CIFAR-10 archive; extract it first (tar xzf {path}) and pass the folder")
    needed = {"train": TRAIN_FILES, "test": TEST_FILES, "all": TRAIN_FILES + TEST_FILES}[split]
    dirs = search_dirs(path, subdirs=(FOLDER, "cifar10", f"cifar10/{FOLDER}"))
    folder = first_found(dirs, lambda d: d if all((d / n).is_file() for n in needed) else None)
    if folder is None:
        how = "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it"
        raise not_found(f"CIFAR-10 batches {', '.join(needed)}", dirs, how)
    x, y = _read_files(folder, needed)  # "all": the train batches, then the test batch
    info = DatasetInfo("cifar10", _class_names(folder), (3, 32, 32), source=str(folder))
    return Dataset(unit_pixels(x), torch.from_numpy(y), info, split)
