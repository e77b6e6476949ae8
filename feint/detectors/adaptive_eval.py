"""The adaptive attack of each detector beside its plain counterpart, and the drop between them.

Carlini & Wagner 2017, "Adversarial Examples Are Not Easily Detected": high-confidence C&W against
mutation testing, the density-aware PGD against kernel density + uncertainty
(:mod:`feint.detectors.adaptive`). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from feint.attacks.result import AttackResult
from feint.detectors.adaptive import density_aware_pgd, high_confidence_cw
from feint.detectors.base import Detector
from feint.detectors.crafting import craft
from feint.detectors.kde_bu import DensityUncertaintyDetector
from feint.detectors.measure import EvalSettings, attack_entry, timed
from feint.detectors.mutation import MutationDetector


def adaptive_entries(
    detector: Detector,
    x: Tensor,
    y: Tensor,
    clean: dict[str, Any],
    measured: dict[str, dict[str, Any]],
    settings: EvalSettings,
) -> list[dict[str, Any]]:
    """The adaptive attack for this detector beside its plain counterpart (reused when already measured)."""
    model = detector.model
    if isinstance(detector, MutationDetector):
        counterpart, cw_params = "cw", dict(settings.params.get("cw", {}))
        description = f"Carlini & Wagner L2 with confidence kappa = {settings.kappa:g}: far past the boundary"

        def plain() -> AttackResult:
            return high_confidence_cw(model, x, y, kappa=0.0, **cw_params)

        adaptive, seconds = timed(lambda: high_confidence_cw(model, x, y, kappa=settings.kappa, **cw_params))
        name = f"cw (kappa={settings.kappa:g})"
    elif isinstance(detector, DensityUncertaintyDetector):
        counterpart = "pgd"
        description = (
            f"Linf PGD at eps {settings.eps:g} on min(margin, 5) - {settings.adaptive_weight:g} x detector logit once "
            "adversarial: raises the density at the predicted class and lowers the MC-dropout uncertainty"
        )

        def plain() -> AttackResult:
            return craft("pgd", model, x, y, eps=settings.eps, seed=settings.seed)

        signals = detector.differentiable()
        adaptive, seconds = timed(
            lambda: density_aware_pgd(
                signals,
                x,
                y,
                eps=settings.eps,
                steps=settings.adaptive_steps,
                weight=settings.adaptive_weight,
                bounds=detector.bounds,
                seed=settings.seed,
            )
        )
        name = "density-aware pgd"
    else:
        return []
    plain_entry = measured[counterpart] if counterpart in measured else attack_entry(*timed(plain), detector, clean)
    adaptive_entry = attack_entry(adaptive, seconds, detector, clean)
    drop = {
        key: (plain_entry[key] - adaptive_entry[key])
        if plain_entry[key] is not None and adaptive_entry[key] is not None
        else None
        for key in ("roc_auc", "tpr_at_5_fpr", "flagged")
    }
    return [
        {
            "name": name,
            "counterpart": counterpart,
            "description": description,
            "plain": plain_entry,
            "adaptive": adaptive_entry,
            "drop": drop,
        }
    ]
