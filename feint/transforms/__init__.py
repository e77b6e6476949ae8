"""Seeded, composable image transformations, differentiable where they can be (built on kornia).

Each transform draws its parameters per image from a range, from a seeded ``torch.Generator``,
and works on any bounds. They serve the physical-world evaluation (Kurakin et al. 2016), the
Expectation over Transformation attack (Athalye et al. 2018) and the natural-variation audit
(Engstrom et al. 2019)::

    from feint.transforms import Compose, Rotate, Blur, JPEG, print_and_photo

    photo = print_and_photo()                    # the whole chain, default ranges
    x_t = photo(x, seed=0)                       # same seed, same output
    x_r = Rotate(15.0)(x)                        # one value: a fixed rotation
    mine = Compose((Rotate((-5, 5)), Blur((0, 1)), JPEG((30, 90))))

Geometric and photometric transforms pass gradients to their input (bilinear resampling, kornia
filters); :class:`JPEG` runs a real codec and passes gradients straight through.
"""

from feint.transforms.base import Compose, Range, Transform, as_range, uniform
from feint.transforms.geometric import Crop, Perspective, Rotate, Scale, Translate, affine
from feint.transforms.jpeg import JPEG, jpeg
from feint.transforms.photometric import Blur, Brightness, ColourShift, Contrast, Gamma, GaussianNoise
from feint.transforms.pipelines import print_and_photo

__all__ = [
    "JPEG",
    "Blur",
    "Brightness",
    "ColourShift",
    "Compose",
    "Contrast",
    "Crop",
    "Gamma",
    "GaussianNoise",
    "Perspective",
    "Range",
    "Rotate",
    "Scale",
    "Transform",
    "Translate",
    "affine",
    "as_range",
    "jpeg",
    "print_and_photo",
    "uniform",
]
