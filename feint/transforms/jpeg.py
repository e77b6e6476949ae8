"""JPEG compression at a quality drawn per image, through a real codec (Pillow's libjpeg).

The codec is not differentiable; its gradient is passed straight through (the identity, as in
Athalye, Carlini & Wagner 2018's BPDA and Athalye et al. 2018's Expectation over Transformation),
so attacks can optimise through a pipeline that contains it. Kurakin et al. 2016 measured JPEG
at qualities 10 to 75. Shapes: x (N, C, H, W) in [0, 1]; one or three channels are coded as
grey or RGB images, any other count channel by channel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from feint.transforms.base import Range, Transform, as_range, uniform


def _code(pixels: np.ndarray, quality: int) -> np.ndarray:
    """One (H, W) or (H, W, 3) uint8 image through JPEG at ``quality``."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB" if pixels.ndim == 3 else "L"))


def jpeg(x: Tensor, quality: Tensor) -> Tensor:
    """``x`` (N, C, H, W) in [0, 1] compressed at the integer qualities ``quality`` (N,), no gradient."""
    pixels = (x.detach() * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    out = np.empty_like(pixels)
    for i, q in enumerate(quality.tolist()):
        if pixels.shape[1] == 3:
            out[i] = _code(np.ascontiguousarray(pixels[i].transpose(1, 2, 0)), int(q)).transpose(2, 0, 1)
        else:
            for c in range(pixels.shape[1]):
                out[i, c] = _code(pixels[i, c], int(q))
    return torch.from_numpy(out).to(device=x.device, dtype=x.dtype) / 255


@dataclass(frozen=True)
class JPEG(Transform):
    """JPEG compression at an integer quality drawn from ``quality`` (1-100); straight-through gradient."""

    quality: Range | float = (50, 95)
    name = "jpeg"
    param = "quality"
    differentiable = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "quality", as_range(self.quality, "JPEG quality", low=1, high=100))

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        quality = uniform(self.quality, x.shape[0], generator, x.device).round()
        coded = jpeg(x, quality)
        return x + (coded - x).detach()
