"""What a ``feint patch`` run trains and measures, checked before any work."""

from __future__ import annotations

import math
from dataclasses import dataclass

from feint.attacks.patches import KINDS, MASK_SHAPES, check_area
from feint.errors import InputError
from feint.threat import parse_norm
from feint.validation import check_choice, check_positive_int

DEFAULT_AREAS = (0.02, 0.05, 0.1, 0.15, 0.25)
NORM_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
MAX_DRAWS = 1000


@dataclass(frozen=True)
class PatchSettings:
    """``kind`` (sticker, patch or universal) and its budget: ``area`` (sticker and patch; ``areas``:
    the patch's success curve) or ``eps`` and ``norm`` (universal); ``target`` (targeted) and
    ``source`` (train and measure on that class only); the training (``steps`` or, universal,
    passes; ``samples`` transformations per image and step); ``draws`` random placements and
    transformations per held-out image; ``held_out``: the fraction of the inputs kept for measuring."""

    kind: str = "patch"
    area: float = 0.1
    areas: tuple[float, ...] = DEFAULT_AREAS
    eps: float | None = None
    norm: str = "inf"
    target: int | None = None
    source: int | None = None
    mask: str = "square"
    mask_at: tuple[float, float] = (0.5, 0.5)
    printability: float = 1.0
    smoothness: float = 0.05
    steps: int = 300
    samples: int = 4
    draws: int = 4
    held_out: float = 0.5
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "kind (--kind)")
        if self.kind == "universal":
            if self.eps is None or isinstance(self.eps, bool) or not 0 < float(self.eps) < math.inf:
                raise InputError(f"a universal perturbation needs a budget eps > 0 (--eps), got {self.eps!r}")
            object.__setattr__(self, "norm", parse_norm(self.norm))
            check_choice(self.norm, ("inf", "2"), "norm (--norm)")
        else:
            object.__setattr__(self, "area", check_area(self.area, "area (--area)"))
            object.__setattr__(
                self, "areas", tuple(sorted({check_area(a, "every area (--areas)") for a in self.areas}))
            )
        if self.kind == "sticker" and self.mask not in MASK_SHAPES and self.mask != "file":
            raise InputError(f"unknown mask {self.mask!r}; use {', '.join(MASK_SHAPES)} or a mask image file")
        for value, name in ((self.target, "target (--target)"), (self.source, "source (--source)")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InputError(f"{name} must be a class index >= 0, got {value!r}")
        if self.target is not None and self.target == self.source:
            raise InputError(f"the target class {self.target} is the source class; choose another --target")
        if not 0 < self.held_out < 1:
            raise InputError(
                f"held_out (--held-out) must be a fraction strictly between 0 and 1, got {self.held_out!r}"
            )
        for value, name in ((self.steps, "steps (--steps)"), (self.samples, "samples (--samples)")):
            check_positive_int(value, name)
        check_positive_int(self.draws, "draws (--draws)")
        if self.draws > MAX_DRAWS:
            raise InputError(f"draws (--draws) must be at most {MAX_DRAWS}, got {self.draws}")
        check_positive_int(self.batch_size, "batch_size (--batch-size)")

    @property
    def budget(self) -> str:
        """The budget in words: ``"area 0.1"`` or ``"Linf eps 0.1"``."""
        if self.kind == "universal":
            return f"{'Linf' if self.norm == 'inf' else 'L2'} eps {self.eps:g}"
        return f"area {self.area:g}"
