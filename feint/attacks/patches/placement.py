"""Putting a patch on images: a random place, scale and rotation per image (Brown et al. 2017).

Brown, Mané, Roy, Abadi & Gilmer 2017 ("Adversarial Patch") train a patch ``p`` through the
operator ``A(p, x, l, t)`` that rotates and scales the patch (``t``) and pastes it at location
``l``: the patch is drawn at the centre of a blank canvas of the image's size with its mask,
both are warped by one affine map (:func:`feint.transforms.affine`, differentiable, bilinear)
and the image keeps its pixels where the warped mask is 0. Locations are drawn so that the
rotated, scaled patch stays inside the image. Shapes: x (N, C, H, W), patch (C, h, w).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from feint.attacks.patches.masks import check_patch_fits
from feint.transforms import Range, affine, as_range, uniform


@dataclass(frozen=True)
class Placement:
    """The distribution of ``t`` and ``l``: a scale factor of the patch's side and a rotation in
    degrees, each drawn per image from its range; the location is uniform over the image."""

    scale: Range | float = (0.9, 1.1)
    degrees: Range | float = (-20.0, 20.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", as_range(self.scale, "patch scale", low=0, high=10, strict=True))
        object.__setattr__(self, "degrees", as_range(self.degrees, "patch rotation degrees", low=-360, high=360))

    def at_scale(self, factor: float) -> Placement:
        """The same placement with every scale multiplied by ``factor`` (the patch at another area)."""
        lo, hi = self.scale  # type: ignore[misc]
        return Placement((lo * factor, hi * factor), self.degrees)


def canvas(patch: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """The patch at the centre of a (C, H, W) blank canvas, and its (1, H, W) mask."""
    check_patch_fits(patch, height, width)
    h, w = int(patch.shape[-2]), int(patch.shape[-1])
    top, left = (height - h) // 2, (width - w) // 2
    pad = (left, width - w - left, top, height - h - top)
    board = torch.nn.functional.pad(patch, pad)
    mask = torch.nn.functional.pad(torch.ones(1, h, w, device=patch.device, dtype=patch.dtype), pad)
    return board, mask


def paste(x: Tensor, patch: Tensor, placement: Placement, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """``A(p, x, l, t)``: each image of ``x`` with ``patch`` pasted at its own random place, scale and
    rotation; returns the images and the (N, 1, H, W) warped masks (gradients flow to ``patch``)."""
    n, _, height, width = x.shape
    board, mask = canvas(patch, height, width)
    scale = uniform(placement.scale, n, generator, x.device)
    angle = uniform(placement.degrees, n, generator, x.device)
    turn = angle.deg2rad()
    spread = turn.cos().abs() + turn.sin().abs()
    room = torch.stack(
        [
            (1 - patch.shape[-1] * scale * spread / width).clamp_min(0) / 2,
            (1 - patch.shape[-2] * scale * spread / height).clamp_min(0) / 2,
        ],
        1,
    )
    shift = (torch.rand(n, 2, generator=generator, device=x.device) * 2 - 1) * room
    stacked = torch.cat([board, mask]).expand(n, -1, -1, -1)
    warped = affine(stacked, angle=angle, scale=scale, shift=shift)
    drawn, cover = warped[:, :-1], warped[:, -1:].clamp(0, 1)
    return x * (1 - cover) + drawn, cover


def scale_for_area(patch: Tensor, height: int, width: int, area: float) -> float:
    """The scale factor at which the patch covers ``area`` of the image."""
    return math.sqrt(area * height * width / (patch.shape[-2] * patch.shape[-1]))
