"""Where a sticker or a patch may go: area fractions, patch sides and masks, each checked.

Eykholt et al. 2018 ("Robust Physical-World Attacks on Deep Learning Visual Classification", RP2)
restrict the perturbation to a mask shaped like stickers a person could put on the object: a
user's own mask image, or generated shapes (a square, or horizontal strips like their stop-sign
"graffiti"). Brown et al. 2017 ("Adversarial Patch") measure a patch by the fraction of the image
it covers. Shapes: a mask is (1, H, W) float with values in [0, 1] (1: the sticker covers it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from feint.errors import InputError

MASK_SHAPES = ("square", "strips")


def check_area(area: float, name: str = "area") -> float:
    """An area fraction strictly between 0 and 1."""
    if isinstance(area, bool) or not isinstance(area, (int, float)) or not 0.0 < float(area) < 1.0:
        raise InputError(f"{name} must be a fraction of the image strictly between 0 and 1 (e.g. 0.05), got {area!r}")
    return float(area)


def patch_side(area: float, height: int, width: int) -> int:
    """The side in pixels of the largest square patch that covers at most ``area`` of an ``height`` x
    ``width`` image (one pixel at least)."""
    side = max(1, math.floor(math.sqrt(check_area(area) * height * width) + 1e-9))
    if side > min(height, width):
        raise InputError(
            f"a square patch of {area:g} of a {height}x{width} image would be {side} px wide, larger than the "
            f"image; use an area of at most {min(height, width) ** 2 / (height * width):.3g}"
        )
    return side


def check_patch_fits(patch: Tensor, height: int, width: int) -> None:
    """A patch (C, h, w) no larger than the image it goes on."""
    if patch.dim() != 3:
        raise InputError(f"a patch must be one image (C, h, w), got shape {tuple(patch.shape)}")
    h, w = int(patch.shape[-2]), int(patch.shape[-1])
    if h > height or w > width:
        raise InputError(
            f"the patch ({h}x{w} px) is larger than the images ({height}x{width} px); use a smaller patch "
            "(a smaller --area) or larger images"
        )


def check_mask(mask: Tensor, height: int, width: int) -> Tensor:
    """``mask`` as a (1, H, W) float in [0, 1]: (H, W), (1, H, W) or (1, 1, H, W) of the images' size, not all zero."""
    if not isinstance(mask, Tensor) or mask.dim() < 2 or math.prod(mask.shape[:-2]) != 1:
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise InputError(f"a mask must be one (H, W) image, got {shape}")
    if tuple(mask.shape[-2:]) != (height, width):
        raise InputError(
            f"the mask is {mask.shape[-2]}x{mask.shape[-1]} px but the images are {height}x{width}; "
            "give a mask of the images' size"
        )
    flat = mask.detach().float().reshape(1, height, width)
    if not bool(torch.isfinite(flat).all()) or float(flat.min()) < 0 or float(flat.max()) > 1:
        raise InputError("mask values must lie in [0, 1] (1 where the sticker goes)")
    if float(flat.max()) == 0:
        raise InputError("the mask is all zero: it leaves no pixel for the sticker; mark where it goes with 1")
    return flat


def square_mask(height: int, width: int, area: float, *, at: Sequence[float] = (0.5, 0.5)) -> Tensor:
    """A square of ``area`` of the image centred at ``at`` = (row, column) fractions, kept inside the image."""
    side = patch_side(area, height, width)
    cy, cx = (float(v) for v in at)
    if not (0 <= cy <= 1 and 0 <= cx <= 1):
        raise InputError(f"the mask position must be two fractions of the image in [0, 1], got {tuple(at)}")
    top = min(max(round(cy * height - side / 2), 0), height - side)
    left = min(max(round(cx * width - side / 2), 0), width - side)
    mask = torch.zeros(1, height, width)
    mask[:, top : top + side, left : left + side] = 1
    return mask


def strips_mask(height: int, width: int, area: float, *, count: int = 2) -> Tensor:
    """``count`` full-width horizontal strips covering at most ``area`` together (a row each at least), spread evenly down the image
    (the two-strip "graffiti" of Eykholt et al. 2018)."""
    check_area(area)
    rows = max(1, math.floor(area * height / count + 1e-9))
    if rows * count > height:
        raise InputError(f"{count} strips of {area:g} of the image do not fit in {height} rows; lower the area")
    mask = torch.zeros(1, height, width)
    for k in range(count):
        centre = (k + 1) * height / (count + 1)
        top = min(max(round(centre - rows / 2), 0), height - rows)
        mask[:, top : top + rows, :] = 1
    return mask


def make_mask(shape: str, height: int, width: int, area: float, *, at: Sequence[float] = (0.5, 0.5)) -> Tensor:
    """A generated mask: ``"square"`` at ``at`` or ``"strips"``, covering ``area`` of the image."""
    if shape == "square":
        return square_mask(height, width, area, at=at)
    if shape == "strips":
        return strips_mask(height, width, area)
    raise InputError(f"unknown mask shape {shape!r}; use one of {', '.join(MASK_SHAPES)} or give a mask image")


def load_mask(path: str | os.PathLike[str], height: int, width: int) -> Tensor:
    """A mask file as a checked (1, H, W) mask: a ``.npy`` array (read without pickles) or an image
    (PNG, ...; grey levels, white = 1)."""
    where = Path(path)
    try:
        if where.suffix.lower() == ".npy":
            values = torch.from_numpy(np.load(where, allow_pickle=False).astype(np.float32))
        else:
            with Image.open(where) as image:
                values = torch.from_numpy(np.asarray(image.convert("L"), dtype=np.float32) / 255)
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read the mask {where} ({exc}); give a .npy array or an image file") from exc
    return check_mask(values, height, width)
