"""Putting a trained pattern on images: a sticker inside its mask, a patch at a random place, a
universal perturbation added everywhere. Shapes: x (N, C, H, W); a sticker and a universal
perturbation (C, H, W), a patch (C, h, w); a mask (1, H, W).
"""

from __future__ import annotations

import torch
from torch import Tensor

from feint.attacks.patches.placement import Placement, paste
from feint.validation import Bounds


def apply_sticker(x: Tensor, sticker: Tensor, mask: Tensor) -> Tensor:
    """The images with the sticker over them where ``mask`` is 1: ``(1 - M) x + M s``, the set that
    Eykholt et al.'s masked perturbation ``x + M delta`` reaches once clipped to the bounds."""
    return x * (1 - mask) + sticker * mask


def apply_universal(x: Tensor, perturbation: Tensor, bounds: Bounds) -> Tensor:
    """``clip(x + v)``: the one perturbation added to every image (Moosavi-Dezfooli et al. 2017)."""
    return (x + perturbation).clamp(*bounds)


def apply_patch(x: Tensor, patch: Tensor, placement: Placement, generator: torch.Generator | None) -> Tensor:
    """The images with ``patch`` pasted at a random place, scale and rotation each (Brown et al. 2017)."""
    return paste(x, patch, placement, generator)[0]
