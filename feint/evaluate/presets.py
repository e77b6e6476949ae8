"""Audit presets: which attacks run, in which order, with which budget.

An audit runs *sequential* attacks (``standalone=False``) in order, each only on the inputs that
are still robust at that eps (AutoAttack's rule, Croce & Hein 2020, "Reliable evaluation of
adversarial robustness with an ensemble of diverse parameter-free attacks"); *standalone*
attacks (FGSM, the noise baseline) run on every input, because the checks of Carlini et al. 2019
("On Evaluating Adversarial Robustness") and Goodfellow's table compare them against the rest.
A ``minimum-norm`` attack runs once, unbounded, and answers every eps.

- ``quick``: FGSM + PGD.
- ``standard``: FMN, APGD-CE, APGD-T (targeted DLR), Square, + FGSM. DLR, Square and FMN are
  invariant to a rescaling of the logits, so a saturated softmax cannot hide non-robustness.
- ``thorough``: the same with AutoAttack's budgets (APGD 100 steps, 3 restarts, 9 target
  classes, Square 1,000 queries) and FMN 200 steps.

A query-only model (an ONNX file without conversion, a scikit-learn model, an HTTP endpoint)
gets the preset's black-box part (:meth:`Preset.for_access`): Square with the preset's budget
when it answers scores, HopSkipJump (Chen et al. 2020) when it answers only labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from feint.validation import check_choice

KINDS = ("white-box", "black-box", "minimum-norm")
PRESETS = ("quick", "standard", "thorough")
NOISE = "noise"


@dataclass(frozen=True)
class AttackPlan:
    """One attack of a preset: registry ``name``, its ``kind``, extra keyword ``params``."""

    name: str
    kind: str = "white-box"
    params: Mapping[str, Any] = field(default_factory=dict)
    standalone: bool = False
    min_classes: int = 2

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "attack kind")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def minimum_norm(self) -> bool:
        return self.kind == "minimum-norm"

    @property
    def iterative_white_box(self) -> bool:
        """A white-box attack that is not the single-step reference."""
        return self.kind in ("white-box", "minimum-norm") and not self.standalone


@dataclass(frozen=True)
class Preset:
    """The attacks in the order they run; ``unbounded`` checks reachability when no min-norm attack runs."""

    name: str
    attacks: tuple[AttackPlan, ...]
    unbounded: AttackPlan | None = None
    unbounded_samples: int = 64

    def for_task(self, norm: str, num_classes: int) -> Preset:
        """Drop the attacks that do not support ``norm`` (their registry entry says which they do)
        or need more classes than the model has (targeted DLR needs 4)."""
        from feint.attacks.registry import get_attack

        keep = tuple(a for a in self.attacks if norm in get_attack(a.name).norms and num_classes >= a.min_classes)
        return Preset(self.name, keep, self.unbounded, self.unbounded_samples)

    def for_access(self, access: str) -> Preset:
        """The attacks a model at ``access`` ("white-box", "scores" or "labels") allows."""
        if access == "white-box":
            return self
        b = _BLACK_BOX_BUDGETS[self.name]
        if access == "scores":
            plan = AttackPlan("square", "black-box", {"n_queries": b["square"]})
        else:
            plan = AttackPlan("hopskipjump", "black-box", {"max_queries": b["hsj"]})
        return Preset(self.name, (plan,), None, self.unbounded_samples)


_FGSM = AttackPlan("fgsm", "white-box", standalone=True)


# Budgets: the standard one spends ~130 gradient-equivalents per input still robust at an eps
# (APGD-CE 50 + APGD-T 50 + Square 60 forward passes) and 40 FMN steps per clean-correct input,
# under a fifth of PGD-100 x 10 restarts (benchmarks/audit_speed.py measures it).
_BUDGETS = {
    "standard": {"fmn": 40, "ce": 50, "ce_restarts": 1, "t": 50, "targets": 1, "square": 60, "hsj": 500},
    "thorough": {"fmn": 200, "ce": 100, "ce_restarts": 3, "t": 100, "targets": 9, "square": 1000, "hsj": 2000},
}
# The quick preset has no black-box attack of its own; a query-only model gets the standard part.
_BLACK_BOX_BUDGETS = {"quick": _BUDGETS["standard"], **_BUDGETS}


def _ensemble(name: str) -> Preset:
    b = _BUDGETS[name]
    return Preset(
        name,
        (
            AttackPlan("fmn", "minimum-norm", {"steps": b["fmn"]}),
            AttackPlan("apgd-ce", "white-box", {"steps": b["ce"], "restarts": b["ce_restarts"]}),
            AttackPlan("apgd-t", "white-box", {"steps": b["t"], "n_target_classes": b["targets"]}, min_classes=4),
            AttackPlan("square", "black-box", {"n_queries": b["square"]}),
            _FGSM,
        ),
    )


def get_preset(name: str) -> Preset:
    """``quick``, ``standard`` or ``thorough``."""
    check_choice(name, PRESETS, "preset")
    if name == "quick":
        pgd = AttackPlan("pgd", "white-box", {"steps": 20, "restarts": 1})
        return Preset("quick", (pgd, _FGSM), unbounded=AttackPlan("pgd", "white-box", {"steps": 50}))
    return _ensemble(name)
