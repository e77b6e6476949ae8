"""A dataset from a folder of images with one sub-folder per class (the ImageFolder layout).

``root/<class>/<image>``: class names are the sorted sub-folder names, labels their positions.
Images are read with Pillow and must all have the same size (nothing is resized behind your
back); they stay greyscale, x (N, 1, H, W), when every image is greyscale, and are otherwise read
as RGB, x (N, 3, H, W) (an alpha channel is dropped). x is float32 in [0, 1], y (N,) int64. The
split is the fixed, seeded, stratified 80/20 split every feint loader uses; "all" is every image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from feint.data.dataset import Dataset, DatasetInfo, check_split, split_indices, unit_pixels
from feint.data.limits import check_declared_size
from feint.errors import DataError

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
GREY_MODES = ("1", "L")


def list_images(root: Path) -> tuple[tuple[str, ...], list[Path], list[int]]:
    classes = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise DataError(
            f"{root} has no class sub-folders; put the images of each class in a sub-folder named after it "
            f"(e.g. {root / 'cat' / '0001.png'})"
        )
    files: list[Path] = []
    labels: list[int] = []
    for k, name in enumerate(classes):
        images = sorted(p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DataError(
                f"class folder {root / name} has no images ({' '.join(IMAGE_SUFFIXES)}); add some or remove the folder"
            )
        files += images
        labels += [k] * len(images)
    return classes, files, labels


def open_image(p: Path) -> Image.Image:
    try:
        return Image.open(p)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {p} ({exc}); fix or remove the file") from exc


def inspect_headers(files: list[Path], *, unreadable: list[int] | None = None) -> tuple[bool, tuple[int, int]]:
    """Check from the headers alone that all images share one size: (all greyscale?, (width, height)).
    A file that cannot be read raises, or (``unreadable`` given) has its position added there."""
    size: tuple[int, int] | None = None
    first: Path | None = None
    grey = True
    for i, p in enumerate(files):
        try:
            im = open_image(p)
        except DataError:
            if unreadable is None:
                raise
            unreadable.append(i)
            continue
        with im:
            size, first = size or im.size, first or p
            if im.size != size:
                raise DataError(
                    f"{p} is {im.size[0]}x{im.size[1]} but {first} is {size[0]}x{size[1]}; "
                    "feint needs images of one size: resize them all to one size first"
                )
            grey = grey and im.mode in GREY_MODES
    if size is None:
        raise DataError(f"none of the {len(files)} images can be read; check the files")
    return grey, size


def _inspect(files: list[Path]) -> tuple[bool, int]:
    """(all greyscale?, pixels per image) from the headers: all images must share one size."""
    grey, (w, h) = inspect_headers(files)
    return grey, w * h


def _decode(files: list[Path], *, grey: bool) -> np.ndarray:
    """(N, C, H, W) uint8, C = 1 for greyscale, 3 for RGB."""
    arrays = []
    for p in files:
        with open_image(p) as im:
            try:
                arrays.append(np.asarray(im.convert("L" if grey else "RGB")))
            except (OSError, ValueError) as exc:  # a header that reads but pixel data that does not
                raise DataError(f"cannot read image {p} ({exc}); fix or remove the file") from exc
    x = np.stack(arrays)
    return x[:, None] if grey else x.transpose(0, 3, 1, 2)


def load_image_folder(path: str | os.PathLike[str], split: str) -> Dataset:
    """x (N, C, H, W) float32 in [0, 1], y (N,) int64 from ``path/<class>/<image>``."""
    check_split(split)
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"no image folder at {root}; pass a folder with one sub-folder of images per class")
    classes, files, labels = list_images(root)
    y = np.asarray(labels, dtype=np.int64)
    idx = split_indices(y, split)
    grey, pixels = _inspect(files)  # every file, so train and test agree on size and channels
    check_declared_size(len(idx) * pixels * (1 if grey else 3), where=str(root))
    x = _decode([files[i] for i in idx], grey=grey)
    c, h, w = x.shape[1:]
    info = DatasetInfo(root.name, classes, (int(c), int(h), int(w)), source=str(root))
    return Dataset(unit_pixels(np.ascontiguousarray(x)), torch.from_numpy(y[idx]), info, split)
