"""Evaluating a detector the way the detection literature learned it must be done.

For each attack the adversarial inputs are crafted from the clean inputs the model classifies
correctly and only those that fool it count as positives; the negatives are those clean inputs;
natural misclassifications are measured apart (a detector that flags them is not wrong, nor right).
Per attack: ROC curve, ROC-AUC, TPR at 5% FPR, what the detector's own decisions flagged and the
time per decision (and for mutation testing, the mutants per SPRT decision). Then the adaptive
attacks of :mod:`feint.detectors.adaptive_eval` beside their plain counterparts, with the drop.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.result import AttackResult, predict_logits
from feint.detectors.adaptive_eval import adaptive_entries
from feint.detectors.base import Detector
from feint.detectors.crafting import craft
from feint.detectors.measure import EvalSettings, attack_entry, decisions, summarise
from feint.detectors.metrics import rate
from feint.detectors.mutation import MutationDetector
from feint.progress import bar, milestone

__all__ = ["EvalSettings", "craft_all", "evaluate_detector"]


def craft_all(
    model: nn.Module, x: Tensor, y: Tensor, *, settings: EvalSettings, progress: bool = False
) -> dict[str, tuple[AttackResult, float]]:
    """Each attack of ``settings`` on ``(x, y)``, with the seconds it took (for reuse across detectors)."""
    crafted = {}
    for i, name in enumerate(bar(progress, iterable=settings.attacks, desc="attacks", unit="attack")):
        params = dict(settings.params.get(name, {}))
        eps = float(params.pop("eps", settings.eps))  # an attack's own eps in params overrides the common one
        start = time.perf_counter()
        result = craft(name, model, x, y, eps=eps, seed=settings.seed + i, **params)
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
