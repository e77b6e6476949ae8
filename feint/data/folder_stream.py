"""An image folder (``root/<class>/<image>``) read in batches, decoded by Pillow in DataLoader workers.

The channels come from the first image (greyscale: 1, else RGB: 3, an alpha channel dropped); an
image of another size or kind stops the stream with one :class:`~feint.errors.DataError`. A file
Pillow cannot read stops it too (``on_bad_file="stop"``, the default) or is skipped and counted
(``"skip"``). The split is the one :func:`feint.data.folder.load_image_folder` uses, so a streamed
folder holds the same files as a loaded one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader

from feint.data.dataset import DatasetInfo, check_split, split_indices
from feint.data.folder import GREY_MODES, list_images, open_image
from feint.data.stream import ON_BAD_FILE, Skipped, Source, pick
from feint.errors import DataError


class ImageFiles(torch.utils.data.Dataset[Any]):
    """Item i: ``(pixels (C, H, W) uint8, label)``, or ``(path, why)`` for a file that cannot be decoded
    (raised in the main process: an error inside a worker would reach the user wrapped in a traceback)."""

    def __init__(self, files: list[Path], labels: np.ndarray, *, grey: bool, size: tuple[int, int]) -> None:
        self.files, self.labels, self.grey, self.size = files, labels, grey, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        p = self.files[i]
        try:
            with Image.open(p) as im:
                if im.size != self.size:
                    return str(p), f"is {im.size[0]}x{im.size[1]} but the first image is {self.size[0]}x{self.size[1]}"
                if self.grey and im.mode not in GREY_MODES:
                    return str(p), f"is {im.mode} but the first image is greyscale"
                pixels = np.array(im.convert("L" if self.grey else "RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            return str(p), f"cannot be read ({exc})"
        x = torch.from_numpy(np.ascontiguousarray(pixels[None] if self.grey else pixels.transpose(2, 0, 1)))
        return x, int(self.labels[i])


def _keep_failures(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The DataLoader's collate: a list as it is (decoded images are stacked in the main process)."""
    return items


def _probe(files: list[Path]) -> tuple[tuple[int, int], bool]:
    """(size, greyscale?) of the first image that opens (an unreadable one is reported when it is read)."""
    for p in files:
        try:
            with open_image(p) as im:
                return im.size, im.mode in GREY_MODES
        except DataError:
            continue
    raise DataError(f"none of the {len(files)} images from {files[0].parent.parent} can be read; check the files")


class FolderSource(Source):
    """The images of ``root/<class>/`` (``split``: the fixed 80/20 split, or ``"all"``)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "all",
        *,
        on_bad_file: str = "stop",
        files: list[Path] | None = None,
        labels: np.ndarray | None = None,
        classes: tuple[str, ...] | None = None,
    ) -> None:
        check_split(split)
        if on_bad_file not in ON_BAD_FILE:
            raise DataError(f"on_bad_file={on_bad_file!r}; use one of {', '.join(ON_BAD_FILE)}")
        self.root, self.split, self.on_bad_file, self.skipped = Path(root), split, on_bad_file, Skipped()
        if files is None or labels is None or classes is None:
            if not self.root.is_dir():
                raise DataError(
                    f"no image folder at {self.root}; pass a folder with one sub-folder of images per class"
                )
            classes, every, found = list_images(self.root)
            keep = split_indices(np.asarray(found, dtype=np.int64), split)
            files, labels = [every[i] for i in keep], np.asarray(found, dtype=np.int64)[keep]
        self.files, self.labels, self.classes = files, labels, classes
        self.size, self.grey = _probe(self.files)
        shape = (1 if self.grey else 3, self.size[1], self.size[0])
        self.info = DatasetInfo(self.root.name, classes, shape, source=str(self.root))

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, n: int | None, seed: int = 0) -> Source:
        idx = pick(len(self), n, seed)
        return FolderSource(
            self.root,
            self.split,
            on_bad_file=self.on_bad_file,
            files=[self.files[i] for i in idx],
            labels=self.labels[idx],
            classes=self.classes,
        )

    def raw_batches(self, batch_size: int, workers: int) -> Iterator[tuple[Tensor, Tensor]]:
        self.skipped = Skipped()
        images = ImageFiles(self.files, self.labels, grey=self.grey, size=self.size)
        loader = DataLoader(images, batch_size=batch_size, num_workers=workers, collate_fn=_keep_failures)
        for items in loader:
            good = [(x, y) for x, y in items if isinstance(x, Tensor)]
            for path, why in ((p, w) for p, w in items if not isinstance(p, Tensor)):
                if self.on_bad_file == "stop":
                    raise DataError(
                        f"image {path} {why}; fix or remove the file, or skip such files "
                        "(--on-bad-file skip, on_bad_file='skip' in Python)"
                    )
                self.skipped.files.append(path)
            if good:
                yield torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good], dtype=torch.long)
