"""Ready-made pipelines: the print-and-photo simulation of Kurakin, Goodfellow & Bengio 2016.

Their photos of printed adversarial images went through a camera's geometry (an off-axis view,
rotation and scale), focus (blur), exposure (brightness, contrast, gamma), white balance (a colour
shift), sensor noise and JPEG storage; :func:`print_and_photo` chains those steps, each with a
range, in that order. The default ranges are a mild, careful photo of a print on 28x28 images.
"""

from __future__ import annotations

from feint.transforms.base import Compose, Range
from feint.transforms.geometric import Perspective, Rotate, Scale
from feint.transforms.jpeg import JPEG
from feint.transforms.photometric import Blur, Brightness, ColourShift, Contrast, Gamma, GaussianNoise


def print_and_photo(
    *,
    perspective: Range | float = (0.0, 0.06),
    degrees: Range | float = (-5.0, 5.0),
    scale: Range | float = (0.93, 1.07),
    blur: Range | float = (0.0, 0.6),
    noise: Range | float = (0.0, 0.03),
    brightness: Range | float = (-0.08, 0.08),
    contrast: Range | float = (0.85, 1.15),
    gamma: Range | float = (0.85, 1.2),
    colour: Range | float = (-0.04, 0.04),
    jpeg: Range | float = (50, 95),
) -> Compose:
    """A print photographed with a camera: each argument is the range its step draws from per image."""
    return Compose(
        (
            Perspective(perspective),
            Rotate(degrees),
            Scale(scale),
            Blur(blur),
            Brightness(brightness),
            Contrast(contrast),
            Gamma(gamma),
            ColourShift(colour),
            GaussianNoise(noise),
            JPEG(jpeg),
        )
    )
