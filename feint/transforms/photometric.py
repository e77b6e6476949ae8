"""Photometric transformations, differentiable (kornia's filters and colour adjustments).

Kurakin, Goodfellow & Bengio 2016 ("Adversarial Examples in the Physical World", section 4) apply
brightness ``X + beta``, contrast ``X * alpha``, Gaussian blur and Gaussian noise to measure what
destroys adversarial examples; gamma and a per-channel colour shift model a camera's response and
white balance. Every result is clipped back to [0, 1]. Shapes: x (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from kornia.enhance import adjust_gamma
from kornia.filters import gaussian_blur2d
from torch import Tensor

from feint.errors import InputError
from feint.transforms.base import Range, Transform, as_range, span, uniform

# Below this sigma a Gaussian kernel is a unit impulse in float32: the image is returned as it is.
_SHARP = 1e-3


def _per_image(values: Tensor) -> Tensor:
    return values.view(-1, 1, 1, 1)


@dataclass(frozen=True)
class Blur(Transform):
    """Gaussian blur with a standard deviation in pixels drawn from ``sigma``."""

    sigma: Range | float = (0.0, 1.0)
    name = "blur"
    param = "sigma"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", as_range(self.sigma, "blur sigma", low=0, high=100))

    def kernel_size(self) -> int:
        return 2 * math.ceil(3 * span(self.sigma)[1]) + 1

    def check_size(self, height: int, width: int) -> None:
        k = self.kernel_size()
        if k // 2 >= min(height, width):
            raise InputError(
                f"images of {height}x{width} are too small for a blur with sigma up to {span(self.sigma)[1]:g} "
                f"(a {k} px kernel); use sigma below {min(height, width) / 3:.2g} for images this size"
            )

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        sigma = uniform(self.sigma, x.shape[0], generator, x.device)
        if span(self.sigma)[1] < _SHARP:
            return x
        sigma = sigma.clamp_min(_SHARP).to(x.dtype)
        return gaussian_blur2d(x, self.kernel_size(), torch.stack([sigma, sigma], 1))


@dataclass(frozen=True)
class GaussianNoise(Transform):
    """Additive Gaussian noise with a standard deviation drawn from ``std`` (in [0, 1] units)."""

    std: Range | float = (0.0, 0.05)
    name = "noise"
    param = "std"

    def __post_init__(self) -> None:
        object.__setattr__(self, "std", as_range(self.std, "noise std", low=0, high=1))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        std = uniform(self.std, x.shape[0], generator, x.device).to(x.dtype)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + noise * _per_image(std)).clamp(0, 1)


@dataclass(frozen=True)
class Brightness(Transform):
    """Add ``delta`` (drawn per image, in [0, 1] units) to every pixel: Kurakin et al.'s ``X + beta``."""

    delta: Range | float = (-0.1, 0.1)
    name = "brightness"
    param = "delta"

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta", as_range(self.delta, "brightness delta", low=-1, high=1))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        delta = uniform(self.delta, x.shape[0], generator, x.device).to(x.dtype)
        return (x + _per_image(delta)).clamp(0, 1)


@dataclass(frozen=True)
class Contrast(Transform):
    """Multiply every pixel by ``factor`` (drawn per image): Kurakin et al.'s ``X * alpha``."""

    factor: Range | float = (0.8, 1.2)
    name = "contrast"
    param = "factor"

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", as_range(self.factor, "contrast factor", low=0, high=10))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        factor = uniform(self.factor, x.shape[0], generator, x.device).to(x.dtype)
        return (x * _per_image(factor)).clamp(0, 1)


@dataclass(frozen=True)
class Gamma(Transform):
    """``X ** gamma`` with ``gamma`` drawn per image (a camera's tone curve)."""

    gamma: Range | float = (0.8, 1.25)
    name = "gamma"
    param = "gamma"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma", as_range(self.gamma, "gamma", low=0, high=10, strict=True))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        gamma = uniform(self.gamma, x.shape[0], generator, x.device).to(x.dtype)
        # x**g has an infinite slope at 0 for g < 1: lift black by a hair so gradients stay finite.
        return adjust_gamma(x.clamp_min(1e-6), gamma)


@dataclass(frozen=True)
class ColourShift(Transform):
    """Add an offset drawn from ``shift`` independently to each channel (a white-balance error)."""

    shift: Range | float = (-0.05, 0.05)
    name = "colour"
    param = "shift"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift", as_range(self.shift, "colour shift", low=-1, high=1))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, c = x.shape[:2]
        shift = uniform(self.shift, n * c, generator, x.device).to(x.dtype).view(n, c, 1, 1)
        return (x + shift).clamp(0, 1)
