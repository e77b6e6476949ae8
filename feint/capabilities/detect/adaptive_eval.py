"""The adaptive attack of each detector beside its plain counterpart, and the drop between them.

Carlini & Wagner 2017, "Adversarial Examples Are Not Easily Detected": high-confidence C&W against
mutation testing, the density-aware PGD against kernel density + uncertainty
(:mod:`feint.detectors.adaptive`). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from feint import distributed as fd
from feint.attacks.result import AttackResult
from feint.capabilities.detect.measure import EvalSettings
from feint.detectors.adaptive import density_aware_pgd, high_confidence_cw
from feint.detectors.base import Detector
from feint.detectors.crafting import craft
from feint.detectors.kde_bu import DensityUncertaintyDetector
from feint.detectors.mutation import MutationDetector

# One batch of an attack: (x, y, the batch's index, the rows' positions among all attacked inputs)
# -> (x_adv, success, seconds).
BatchAttack = Callable[[Tensor, Tensor, int, Tensor], tuple[Tensor, Tensor, float]]


def timed_batch(fn: Callable[[Tensor, Tensor, int], AttackResult]) -> BatchAttack:
    """A :data:`BatchAttack` that runs ``fn(x, y, batch)`` and times it."""

    def run(x: Tensor, y: Tensor, c: int, _rows: Tensor) -> tuple[Tensor, Tensor, float]:
        start = time.perf_counter()
        result = fn(x, y, c)
        return result.x_adv, result.success, time.perf_counter() - start

    return run


@dataclass(frozen=True)
class AdaptivePlan:
    """The adaptive attack of a detector (``adaptive``) and its plain ``counterpart`` (``plain``)."""

    name: str
    counterpart: str
    description: str
    adaptive: BatchAttack
    plain: BatchAttack


def adaptive_plan(detector: Detector, settings: EvalSettings) -> AdaptivePlan | None:
    """The adaptive attack for this detector, or None for a detector without one."""
    model = detector.model
    if isinstance(detector, MutationDetector):
        cw_params = dict(settings.params.get("cw", {}))
        return AdaptivePlan(
            f"cw (kappa={settings.kappa:g})",
            "cw",
            f"Carlini & Wagner L2 with confidence kappa = {settings.kappa:g}: far past the boundary",
            timed_batch(lambda x, y, _c: high_confidence_cw(model, x, y, kappa=settings.kappa, **cw_params)),
            timed_batch(lambda x, y, _c: high_confidence_cw(model, x, y, kappa=0.0, **cw_params)),
        )
    if isinstance(detector, DensityUncertaintyDetector):
        signals = detector.differentiable()
        return AdaptivePlan(
            "density-aware pgd",
            "pgd",
            f"Linf PGD at eps {settings.eps:g} on min(margin, 5) - {settings.adaptive_weight:g} x detector logit once "
            "adversarial: raises the density at the predicted class and lowers the MC-dropout uncertainty",
            timed_batch(
                lambda x, y, c: density_aware_pgd(
                    signals,
                    x,
                    y,
                    eps=settings.eps,
                    steps=settings.adaptive_steps,
                    weight=settings.adaptive_weight,
                    bounds=detector.bounds,
                    seed=fd.batch_seed(settings.seed, c),
                )
            ),
            timed_batch(
                lambda x, y, c: craft("pgd", model, x, y, eps=settings.eps, seed=fd.batch_seed(settings.seed, c))
            ),
        )
    return None


def adaptive_entry(plan: AdaptivePlan, plain: dict[str, Any], adaptive: dict[str, Any]) -> dict[str, Any]:
    """The report's entry: both attacks' entries and the drop the adaptive one brings."""
    drop = {
        key: (plain[key] - adaptive[key]) if plain[key] is not None and adaptive[key] is not None else None
        for key in ("roc_auc", "tpr_at_5_fpr", "flagged")
    }
    return {
        "name": plan.name,
        "counterpart": plan.counterpart,
        "description": plan.description,
        "plain": plain,
        "adaptive": adaptive,
        "drop": drop,
    }
