"""Evaluating a detector the way the detection literature learned it must be done.

For each attack the adversarial inputs are crafted from the clean inputs the model classifies
correctly and only those that fool it count as positives; the negatives are those clean inputs;
natural misclassifications are measured apart (a detector that flags them is not wrong, nor right).
Per attack: ROC curve, ROC-AUC, TPR at 5% FPR, what the detector's own decisions flagged and the
time per decision (and for mutation testing, the mutants per SPRT decision). Then the adaptive
attacks of :mod:`feint.detectors.adaptive` beside their plain counterparts, with the drop.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.result import AttackResult, predict_logits
from feint.detectors.adaptive import density_aware_pgd, high_confidence_cw
from feint.detectors.base import Detector
from feint.detectors.crafting import craft
from feint.detectors.kde_bu import DensityUncertaintyDetector
from feint.detectors.metrics import mean, rate, roc
from feint.detectors.mutation import MutationDetector
from feint.progress import bar, milestone

DEFAULT_ATTACKS = ("fgsm", "pgd", "cw", "jsma", "deepfool")


@dataclass(frozen=True)
class EvalSettings:
    """``params``: per-attack options, e.g. ``{"cw": {"steps": 50}}``; ``kappa``: the adaptive C&W's
    confidence against mutation testing; ``adaptive_*``: the density-aware PGD's steps and weight."""

    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    eps: float = 0.1
    adaptive: bool = True
    kappa: float = 10.0
    adaptive_steps: int = 100
    adaptive_weight: float = 1.0
    seed: int = 0
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


def decisions(detector: Detector, x: Tensor) -> dict[str, Any]:
    """Scores, the detector's own decisions, mutants used (mutation testing) and seconds per decision."""
    if x.shape[0] == 0:
        empty = torch.zeros(0)
        return {"scores": empty, "flagged": empty.bool(), "mutants": None, "seconds": None, "undecided": 0}
    start = time.perf_counter()
    if isinstance(detector, MutationDetector):
        result = detector.decide(x)
        seconds = (time.perf_counter() - start) / x.shape[0]
        scores, flagged, mutants = detector.score(x), result.adversarial, result.mutants_used
        undecided = int((~result.decided).sum())
    else:
        scores = detector.score(x)
        seconds = (time.perf_counter() - start) / x.shape[0]
        flagged, mutants, undecided = scores > detector.threshold_, None, 0
    return {"scores": scores, "flagged": flagged, "mutants": mutants, "seconds": seconds, "undecided": undecided}


def summarise(group: dict[str, Any], clean: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON part of one group of inputs: size, flagged rate, mean score, timing, mutants, ROC vs ``clean``."""
    out = {
        "n": int(group["scores"].numel()),
        "flagged": rate(group["flagged"]),
        "score_mean": mean(group["scores"]),
        "seconds_per_decision": group["seconds"],
        "mutants_per_decision": None if group["mutants"] is None else mean(group["mutants"]),
        "undecided": group["undecided"],
    }
    if clean is not None:
        out |= roc(clean["scores"], group["scores"])
    return out


def attack_entry(result: AttackResult, seconds: float, detector: Detector, clean: dict[str, Any]) -> dict[str, Any]:
    fooled = result.x_adv[result.success]
    group = decisions(detector, fooled)
    entry = summarise(group, clean)
    entry |= {"attacked": int(result.x.shape[0]), "success_rate": rate(result.success), "attack_seconds": seconds}
    entry["evaded"] = float((~group["flagged"]).sum()) / max(1, int(result.x.shape[0]))
    if group["mutants"] is not None and group["mutants"].numel():
        entry["mutants_histogram"] = torch.bincount(group["mutants"].cpu()).tolist()
    return entry


def _timed(fn: Callable[[], AttackResult]) -> tuple[AttackResult, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def craft_all(
    model: nn.Module, x: Tensor, y: Tensor, *, settings: EvalSettings, progress: bool = False
) -> dict[str, tuple[AttackResult, float]]:
    """Each attack of ``settings`` on ``(x, y)``, with the seconds it took (for reuse across detectors)."""
    crafted = {}
    for i, name in enumerate(bar(progress, iterable=settings.attacks, desc="attacks", unit="attack")):
        params = dict(settings.params.get(name, {}))
        start = time.perf_counter()
        result = craft(name, model, x, y, eps=settings.eps, seed=settings.seed + i, **params)
        crafted[name] = (result, time.perf_counter() - start)
        milestone(progress, f"detect eval: {name} fooled {int(result.success.sum())} of {x.shape[0]} inputs")
    return crafted


def evaluate_detector(
    detector: Detector,
    x: Tensor,
    y: Tensor,
    *,
    settings: EvalSettings,
    crafted: dict[str, tuple[AttackResult, float]] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure ``detector`` on clean inputs ``(x, y)`` and the attacks of ``settings``; the report's measured part.

    ``crafted``: attacks already run on the inputs of ``(x, y)`` the model classifies correctly (see
    :func:`craft_all`), reused instead of crafting them again.
    """
    model = detector.model
    correct = predict_logits(model, x).argmax(1) == y
    xc, yc = x[correct], y[correct]
    milestone(progress, f"detect eval: {int(correct.sum())} correctly classified clean inputs")
    clean = decisions(detector, xc)
    natural = decisions(detector, x[~correct])
    report: dict[str, Any] = {
        "clean": {**summarise(clean, None), "accuracy": rate(correct), "total": int(x.shape[0])},
        "natural_misclassified": summarise(natural, clean),
        "attacks": {},
    }
    if clean["mutants"] is not None:
        report["clean"]["mutants_histogram"] = torch.bincount(clean["mutants"].cpu()).tolist()
    missing = replace(settings, attacks=tuple(a for a in settings.attacks if a not in (crafted or {})))
    results = {**(crafted or {}), **craft_all(model, xc, yc, settings=missing, progress=progress)}
    for name in settings.attacks:
        report["attacks"][name] = attack_entry(*results[name], detector, clean)
    report["sprt"] = sprt_summary(report) if isinstance(detector, MutationDetector) else None
    report["adaptive"] = (
        adaptive_entries(detector, xc, yc, clean, report["attacks"], settings) if settings.adaptive else []
    )
    return report


def sprt_summary(report: dict[str, Any]) -> dict[str, Any]:
    """SPRT accuracy over the clean and every attack's adversarial inputs, and mutants per decision."""
    clean = report["clean"]
    groups = [(clean["n"], 1 - (clean["flagged"] or 0.0), clean["mutants_per_decision"] or 0.0)]
    groups += [(a["n"], a["flagged"] or 0.0, a["mutants_per_decision"] or 0.0) for a in report["attacks"].values()]
    total = sum(n for n, _, _ in groups)
    return {
        "decisions": total,
        "accuracy": sum(n * acc for n, acc, _ in groups) / max(1, total),
        "mutants_per_decision": sum(n * m for n, _, m in groups) / max(1, total),
        "undecided": clean["undecided"] + sum(a["undecided"] for a in report["attacks"].values()),
    }


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

        adaptive, seconds = _timed(lambda: high_confidence_cw(model, x, y, kappa=settings.kappa, **cw_params))
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
        adaptive, seconds = _timed(
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
    plain_entry = measured[counterpart] if counterpart in measured else attack_entry(*_timed(plain), detector, clean)
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
