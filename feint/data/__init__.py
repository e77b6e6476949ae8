"""Datasets as tensors in [0, 1], NCHW: ``feint.data.load(name_or_path, split=...)``."""

from __future__ import annotations

import os
from pathlib import Path

from feint.data.dataset import SPLITS, Dataset, DatasetInfo, check_split
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

    A path may be an ``.npz`` file with arrays ``x`` and ``y`` or a folder of images with one
    sub-folder per class. ``path`` tells where the files of a named dataset lie (MNIST-style IDX
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
    if p.is_dir():
        from feint.data.folder import load_image_folder

        return load_image_folder(p, split)
    if p.suffix == ".npz" or os.sep in str(name):
        raise DataError(f"no dataset file or folder at {str(name)!r}; check the path")
    raise DataError(
        f"unknown dataset {str(name)!r}; use one of {', '.join(NAMES)}, a .npz file with arrays x and y, "
        "or a folder with one sub-folder of images per class"
    )


__all__ = ["NAMES", "SPLITS", "Dataset", "DatasetInfo", "load"]
