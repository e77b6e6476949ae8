"""Geometric transformations, differentiable (bilinear resampling with kornia).

Rotation, translation and scaling are affine maps about the image centre; perspective moves the
four corners; cropping keeps a window and resizes it back. Pixels that come from outside the image
are filled with the low bound (black). These are the spatial transformations of Engstrom et al.
2019 ("Exploring the Landscape of Spatial Robustness") and the geometric part of Kurakin et al.
2016's print-and-photo chain. Shapes: x (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from kornia.geometry.transform import crop_and_resize, get_affine_matrix2d, get_perspective_transform, warp_perspective
from torch import Tensor

from feint.errors import InputError
from feint.transforms.base import Range, Transform, as_range, span, uniform


def _warp(x: Tensor, matrix: Tensor) -> Tensor:
    height, width = x.shape[-2:]
    return warp_perspective(x, matrix.to(x.dtype), (height, width), align_corners=False)


def affine(
    x: Tensor, *, angle: Tensor | None = None, scale: Tensor | None = None, shift: Tensor | None = None
) -> Tensor:
    """Rotate by ``angle`` degrees (clockwise), scale by ``scale``, then shift by ``shift`` (N, 2)
    fractions of the width and height, all about the centre; each (N,) or (N, 2) per image."""
    n, _, height, width = x.shape
    dev = x.device
    angle = torch.zeros(n, device=dev) if angle is None else angle
    scale = torch.ones(n, device=dev) if scale is None else scale
    shift = torch.zeros(n, 2, device=dev) if shift is None else shift
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=dev).expand(n, 2)
    pixels = shift * torch.tensor([width, height], device=dev, dtype=shift.dtype)
    return _warp(x, get_affine_matrix2d(pixels, centre, scale[:, None].expand(n, 2), angle))


@dataclass(frozen=True)
class Rotate(Transform):
    """Rotation by an angle in degrees drawn from ``degrees`` (positive: clockwise)."""

    degrees: Range | float = (-10.0, 10.0)
    name = "rotate"
    param = "degrees"

    def __post_init__(self) -> None:
        object.__setattr__(self, "degrees", as_range(self.degrees, "rotation degrees", low=-360, high=360))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        return affine(x, angle=uniform(self.degrees, x.shape[0], generator, x.device))


@dataclass(frozen=True)
class Translate(Transform):
    """Shift by fractions of the width (``dx``) and height (``dy``), each drawn from its range."""

    dx: Range | float = (-0.1, 0.1)
    dy: Range | float = (-0.1, 0.1)
    name = "translate"
    param = "dx"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dx", as_range(self.dx, "translation dx", low=-1, high=1))
        object.__setattr__(self, "dy", as_range(self.dy, "translation dy", low=-1, high=1))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        dx = uniform(self.dx, n, generator, x.device)
        dy = uniform(self.dy, n, generator, x.device)
        return affine(x, shift=torch.stack([dx, dy], 1))


@dataclass(frozen=True)
class Scale(Transform):
    """Zoom about the centre by a factor drawn from ``factor`` (< 1 shrinks, > 1 enlarges)."""

    factor: Range | float = (0.9, 1.1)
    name = "scale"
    param = "factor"

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", as_range(self.factor, "scale factor", low=0, high=10, strict=True))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        return affine(x, scale=uniform(self.factor, x.shape[0], generator, x.device))


@dataclass(frozen=True)
class Perspective(Transform):
    """A perspective warp: each corner moves by up to ``distortion`` (a fraction of the side,
    drawn per image) in a random direction, as a photo taken off-axis does."""

    distortion: Range | float = (0.0, 0.1)
    name = "perspective"
    param = "distortion"

    def __post_init__(self) -> None:
        object.__setattr__(self, "distortion", as_range(self.distortion, "perspective distortion", low=0, high=0.45))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, _, height, width = x.shape
        dev = x.device
        size = torch.tensor([width - 1, height - 1], device=dev, dtype=torch.float32)
        corners = torch.tensor([[0, 0], [1, 0], [1, 1], [0, 1]], device=dev, dtype=torch.float32) * size
        strength = uniform(self.distortion, n, generator, dev)
        direction = torch.rand(n, 4, 2, generator=generator, device=dev) * 2 - 1
        moved = corners + direction * strength[:, None, None] * size
        return _warp(x, get_perspective_transform(corners.expand(n, 4, 2), moved))


@dataclass(frozen=True)
class Crop(Transform):
    """Keep a window of ``keep`` times each side (drawn per image) at a random position, resized
    back to the full image (bilinear)."""

    keep: Range | float = (0.8, 1.0)
    centred: bool = False
    name = "crop"
    param = "keep"

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", as_range(self.keep, "crop keep fraction", low=0, high=1, strict=True))

    def check_size(self, height: int, width: int) -> None:
        smallest = min(height, width) * span(self.keep)[0]
        if smallest < 2:
            raise InputError(
                f"images of {height}x{width} are too small to crop to {span(self.keep)[0]:g} of a side "
                f"({smallest:.1f} px); keep at least 2 px (raise the keep fraction)"
            )

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, _, height, width = x.shape
        dev = x.device
        keep = uniform(self.keep, n, generator, dev)
        where = torch.full((n, 2), 0.5, device=dev)
        if not self.centred:
            where = torch.rand(n, 2, generator=generator, device=dev)
        size = torch.tensor([width - 1, height - 1], device=dev, dtype=torch.float32)
        extent = keep[:, None] * size
        start = where * (size - extent)
        unit = torch.tensor([[0, 0], [1, 0], [1, 1], [0, 1]], device=dev, dtype=torch.float32)
        boxes = start[:, None, :] + unit[None] * extent[:, None, :]
        return crop_and_resize(x, boxes.to(x.dtype), (height, width), align_corners=True)
