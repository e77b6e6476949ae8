"""An image folder (``root/<class>/<image>``) read in batches, decoded by Pillow in DataLoader workers.

The picked files' headers are read first: an image of another size stops the stream with one
:class:`~feint.errors.DataError` before anything is decoded; the channels are 1 when every image is
greyscale, else 3 (RGB, an alpha channel dropped). A file Pillow cannot read (its header, or later
its pixel data) stops the stream too (``on_bad_file="stop"``, the default) or is skipped and counted
(``"skip"``). The split is the one :func:`feint.data.folder.load_image_folder` uses, so a streamed
folder holds the same files, in the same order and channels, as a loaded one.
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
from feint.data.folder import inspect_headers, list_images
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
                if im.size != self.size:  # changed since the headers were read
                    return str(p), f"is now {im.size[0]}x{im.size[1]}, not {self.size[0]}x{self.size[1]}"
                pixels = np.array(im.convert("L" if self.grey else "RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:  # pixel data that does not decode
            return str(p), f"cannot be decoded ({exc})"
        x = torch.from_numpy(np.ascontiguousarray(pixels[None] if self.grey else pixels.transpose(2, 0, 1)))
        return x, int(self.labels[i])


def _keep_failures(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The DataLoader's collate: a list as it is (decoded images are stacked in the main process)."""
    return items


SKIP_HINT = "or skip such files (--on-bad-file skip, on_bad_file='skip' in Python)"


class FolderSource(Source):
    """The images of ``root/<class>/`` (``split``: the fixed 80/20 split, or ``"all"``; ``n``: a seeded
    subset of that many files). The picked files' headers are read first (cheap, no decoding): they
    must share one size; the channels are 1 when every picked image is greyscale, else 3, as
    :func:`feint.data.folder.load_image_folder` reads them."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "all",
        *,
        n: int | None = None,
        seed: int = 0,
        on_bad_file: str = "stop",
        listed: tuple[tuple[str, ...], list[Path], np.ndarray] | None = None,
    ) -> None:
        check_split(split)
        if on_bad_file not in ON_BAD_FILE:
            raise DataError(f"on_bad_file={on_bad_file!r}; use one of {', '.join(ON_BAD_FILE)}")
        self.root, self.split, self.on_bad_file = Path(root), split, on_bad_file
        if listed is None:
            if not self.root.is_dir():
                raise DataError(
                    f"no image folder at {self.root}; pass a folder with one sub-folder of images per class"
                )
            classes, every, found = list_images(self.root)
            keep = split_indices(np.asarray(found, dtype=np.int64), split)
            listed = classes, [every[i] for i in keep], np.asarray(found, dtype=np.int64)[keep]
        self.listed = listed
        classes, files, labels = listed
        idx = pick(len(files), n, seed)
        unreadable: list[int] = []
        try:
            self.grey, self.size = inspect_headers(
                [files[i] for i in idx], unreadable=unreadable if on_bad_file == "skip" else None
            )
        except DataError as exc:
            raise DataError(f"{exc}; {SKIP_HINT}" if "cannot read image" in str(exc) else str(exc)) from None
        self.unreadable = [str(files[idx[i]]) for i in unreadable]
        idx = np.delete(idx, unreadable)
        self.files, self.labels = [files[i] for i in idx], labels[idx]
        self.skipped = Skipped(list(self.unreadable))
        shape = (1 if self.grey else 3, self.size[1], self.size[0])
        self.info = DatasetInfo(self.root.name, classes, shape, source=str(self.root))

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, n: int | None, seed: int = 0) -> Source:
        classes = self.listed[0]
        return FolderSource(
            self.root,
            self.split,
            n=n,
            seed=seed,
            on_bad_file=self.on_bad_file,
            listed=(classes, self.files, self.labels),
        )

    def raw_batches(self, batch_size: int, workers: int) -> Iterator[tuple[Tensor, Tensor]]:
        self.skipped = Skipped(list(self.unreadable))
        images = ImageFiles(self.files, self.labels, grey=self.grey, size=self.size)
        loader = DataLoader(images, batch_size=batch_size, num_workers=workers, collate_fn=_keep_failures)
        for items in loader:
            good = [(x, y) for x, y in items if isinstance(x, Tensor)]
            for path, why in ((p, w) for p, w in items if not isinstance(p, Tensor)):
                if self.on_bad_file == "stop":
                    raise DataError(f"image {path} {why}; fix or remove the file, {SKIP_HINT}")
                self.skipped.files.append(path)
            if good:
                yield torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good], dtype=torch.long)
