"""Physical, input-agnostic attacks: one pattern for many images.

- :func:`sticker`: an RP2 sticker inside a mask, robust to viewpoint, lighting and the print
  and photo, printable and smooth (Eykholt et al. 2018; Sharif et al. 2016);
- :func:`adversarial_patch`: a patch that works wherever it is put (Brown et al. 2017);
- :func:`universal_perturbation`: one Linf / L2 perturbation for a whole data set
  (Moosavi-Dezfooli et al. 2017).

Each returns a :class:`PatternResult` whose ``apply`` puts the pattern on new images; the
success on held-out images is measured outside (:mod:`feint.attacks.patches.evaluate`).
"""

from feint.attacks.patches.masks import MASK_SHAPES, check_area, check_mask, load_mask, make_mask, patch_side
from feint.attacks.patches.patch import adversarial_patch
from feint.attacks.patches.placement import Placement
from feint.attacks.patches.printability import (
    default_palette,
    load_palette,
    non_printability,
    palette_distance,
    total_variation,
)
from feint.attacks.patches.result import KINDS, PatternResult
from feint.attacks.patches.sticker import sticker
from feint.attacks.patches.universal import universal_perturbation

__all__ = [
    "KINDS",
    "MASK_SHAPES",
    "PatternResult",
    "Placement",
    "adversarial_patch",
    "check_area",
    "check_mask",
    "default_palette",
    "load_mask",
    "load_palette",
    "make_mask",
    "non_printability",
    "palette_distance",
    "patch_side",
    "sticker",
    "total_variation",
    "universal_perturbation",
]
