"""Datasets as tensors in [0, 1], NCHW: ``feint.data.load(name_or_path, split=...)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch.utils import data as torch_data

from feint.data.dataset import SPLITS, Dataset, DatasetInfo, check_split
from feint.data.shards import ShardSource, is_shard_folder
from feint.data.stream import Source, TorchSource
from feint.errors import DataError

NAMES = ("digits", "mnist", "fashion-mnist", "cifar10")


def is_named(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` is one of feint's named datasets (they ship with a test split) rather than a path."""
    return _key(name) in ("digits", "mnist", "fashion-mnist", "fashionmnist", "cifar10", "cifar-10")


def _key(name: str | os.PathLike[str]) -> str:
    return str(name).lower().replace("_", "-")


def load(
    name: str | os.PathLike[str], split: str | None = None, *, path: str | os.PathLike[str] | None = None
) -> Dataset:
    """Load a dataset by name (``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``) or from a path.

    A path may be an ``.npz`` file with arrays ``x`` and ``y``, a folder of images with one
    sub-folder per class, or a folder of ``.npz`` shards (read whole: :func:`open_source` streams them). ``path`` tells where the files of a named dataset lie (MNIST-style IDX
    files, CIFAR-10 python batches); otherwise ``$FEINT_DATA_DIR`` and the Debian locations are tried.
    ``split`` is ``"train"``, ``"test"`` or ``"all"``; left out, a named dataset gives its test
    split and your own file or folder is used whole (``"all"``).
    """
    if split is None:
        split = "test" if is_named(name) else "all"
    check_split(split)
    key = _key(name)
    if key == "digits":
        from feint.data.digits import load_digits_dataset

        return load_digits_dataset(split)
    if key in ("mnist", "fashion-mnist", "fashionmnist"):
        from feint.data.idx import load_idx_dataset

        return load_idx_dataset("fashion-mnist" if key.startswith("fashion") else "mnist", split, path)
    if key in ("cifar10", "cifar-10"):
        from feint.data.cifar import load_cifar10

        return load_cifar10(split, path)
    p = Path(name)
    if p.suffix == ".npz" and p.is_file():
        from feint.data.npz import load_npz

        return load_npz(p, split)
    if is_shard_folder(p):
        return ShardSource(p, split).materialize()
    if p.is_dir():
        from feint.data.folder import load_image_folder

        return load_image_folder(p, split)
    if p.suffix == ".npz" or os.sep in str(name):
        raise DataError(f"no dataset file or folder at {str(name)!r}; check the path")
    raise DataError(
        f"unknown dataset {str(name)!r}; use one of {', '.join(NAMES)}, a .npz file with arrays x and y, "
        "or a folder with one sub-folder of images per class"
    )


def is_streamable(name: Any) -> bool:
    """Whether ``name`` is a source :func:`open_source` streams: a folder (of class sub-folders or of
    ``.npz`` shards), or a torch Dataset or DataLoader."""
    if isinstance(name, (str, os.PathLike)):
        return not is_named(name) and Path(name).is_dir()
    return isinstance(name, (Source, torch_data.Dataset, torch_data.DataLoader))


def open_source(
    data: str | os.PathLike[str] | Source | torch_data.Dataset[Any] | torch_data.DataLoader[Any],
    split: str = "all",
    *,
    n: int | None = None,
    seed: int = 0,
    on_bad_file: str = "stop",
    classes: Any = None,
) -> Source:
    """A data source read in batches (:mod:`feint.data.stream`), never whole: a folder of images with
    one sub-folder per class, a folder of ``.npz`` shards, or your ``torch.utils.data.Dataset`` /
    ``DataLoader`` (items or batches ``(x, y)``; ``classes``: names or their number, else the
    dataset's ``classes``). ``split`` (folders): the fixed 80/20 split or ``"all"``. ``n``: a seeded
    subset of ``n`` files or rows, picked before anything is read, in the source's order.
    ``on_bad_file``: a file that cannot be read stops the stream (``"stop"``) or is skipped and
    counted (``"skip"``; the audit's report says how many)."""
    if isinstance(data, Source):
        source = data
    elif isinstance(data, (torch_data.Dataset, torch_data.DataLoader)):
        source = TorchSource(data, classes=classes)
    elif is_shard_folder(data):
        source = ShardSource(data, split, on_bad_file=on_bad_file)
    elif Path(data).is_dir():
        from feint.data.folder_stream import FolderSource

        return FolderSource(data, split, n=n, seed=seed, on_bad_file=on_bad_file)  # picks before it reads
    else:
        raise DataError(
            f"{str(data)!r} is not a folder; stream a folder of images (one sub-folder per class), a folder of "
            ".npz shards, or a torch Dataset (feint.load reads named datasets and single .npz files whole)"
        )
    return source.subset(n, seed) if n is not None else source


__all__ = ["NAMES", "SPLITS", "Dataset", "DatasetInfo", "Source", "is_streamable", "load", "open_source"]
