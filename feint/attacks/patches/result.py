"""The outcome of training a sticker, a patch or a universal perturbation: one pattern for many images.

Unlike an :class:`~feint.attacks.result.AttackResult` (one adversarial input per input), these
attacks return a single pattern that is applied to any image, the ones it was trained on or new
ones; :meth:`PatternResult.apply` does that, and the success on held-out images is measured
outside the attack (:mod:`feint.attacks.patches.evaluate`). Shapes: see each field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from feint.attacks.patches.apply import apply_patch, apply_sticker, apply_universal
from feint.attacks.patches.placement import Placement, scale_for_area
from feint.validation import Bounds

KINDS = ("sticker", "patch", "universal")


@dataclass(frozen=True)
class PatternResult:
    """A trained pattern and how it was trained.

    Attributes:
        kind: ``"sticker"`` (RP2, Eykholt et al. 2018), ``"patch"`` (Brown et al. 2017) or
            ``"universal"`` (Moosavi-Dezfooli et al. 2017).
        pattern: the sticker (C, H, W, used inside ``mask``), the patch (C, h, w) or the
            perturbation (C, H, W).
        mask: (1, H, W) where the sticker goes; None for the others.
        placement: the patch's placement distribution; None for the others.
        target: the class a targeted pattern aims at; None when untargeted.
        bounds: the input bounds.
        history: the training objective's batch success rate after each step (or pass).
        rows: input rows sent through the model while training (forward and backward each).
        seconds: training wall time.
        norm, eps: a universal perturbation's threat model (None for the others).
    """

    kind: str
    pattern: Tensor
    mask: Tensor | None
    placement: Placement | None
    target: int | None
    bounds: Bounds
    history: list[float]
    rows: int
    seconds: float
    norm: str | None = None
    eps: float | None = None

    def apply(self, x: Tensor, *, generator: torch.Generator | None = None, area: float | None = None) -> Tensor:
        """``x`` (N, C, H, W) with the pattern on it; a patch at a random place per image drawn from
        ``generator``, scaled to cover ``area`` of the image when given."""
        pattern = self.pattern.to(x)
        if self.kind == "sticker":
            assert self.mask is not None
            return apply_sticker(x, pattern, self.mask.to(x))
        if self.kind == "universal":
            return apply_universal(x, pattern, self.bounds)
        assert self.placement is not None
        placement = self.placement
        if area is not None:
            factor = scale_for_area(pattern, int(x.shape[-2]), int(x.shape[-1]), area)
            placement = Placement(factor, placement.degrees)
        return apply_patch(x, pattern, placement, generator)

    def scaled(self, factor: float) -> PatternResult:
        """A universal perturbation multiplied by ``factor`` (its norm times ``factor``)."""
        return replace(self, pattern=self.pattern * factor)
