"""Evaluating a detector the way the detection literature learned it must be done.

For each attack the adversarial inputs are crafted from the clean inputs the model classifies
correctly and only those that fool it count as positives; the negatives are those clean inputs;
natural misclassifications are measured apart (a detector that flags them is not wrong, nor right).
Per attack: ROC curve, ROC-AUC, TPR at 5% FPR, what the detector's own decisions flagged and the
time per decision (and for mutation testing, the mutants per SPRT decision). Then the adaptive
attacks of :mod:`feint.capabilities.detect.adaptive_eval` beside their plain counterparts, with the drop.
Shapes: x (N, C, H, W), y (N,).

The inputs go in batches of ``settings.batch_size``, each attacked with its own seeds
(:func:`feint.distributed.batch_seed`) and decided on; under torchrun batch ``c`` runs on rank
``c % K`` and the per-input scores and decisions are gathered, so K ranks measure exactly what
one process measures (timings aside).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.result import AttackResult, predict_logits
from feint.capabilities.detect.adaptive_eval import (
    AdaptivePlan,
    BatchAttack,
    adaptive_entry,
    adaptive_plan,
    timed_batch,
)
from feint.capabilities.detect.measure import EvalSettings, attack_entry, batch_fields, decisions, joined, summarise
from feint.detectors.base import Detector
from feint.detectors.crafting import craft
from feint.detectors.metrics import rate
from feint.detectors.mutation import MutationDetector
from feint.progress import bar, milestone

__all__ = ["EvalSettings", "craft_all", "evaluate_detector"]


def craft_all(
    model: nn.Module, x: Tensor, y: Tensor, *, settings: EvalSettings, progress: bool = False
) -> dict[str, tuple[AttackResult, float]]:
    """Each attack of ``settings`` on ``(x, y)`` in one batch, with the seconds it took (for reuse
    across detectors: :func:`evaluate_detector`'s ``crafted``)."""
    crafted = {}
    for i, name in enumerate(bar(progress, iterable=settings.attacks, desc="attacks", unit="attack")):
        params = dict(settings.params.get(name, {}))
        eps = float(params.pop("eps", settings.eps))  # an attack's own eps in params overrides the common one
        start = time.perf_counter()
        result = craft(name, model, x, y, eps=eps, seed=settings.seed + i, **params)
        crafted[name] = (result, time.perf_counter() - start)
        milestone(progress, f"detect eval: {name} fooled {int(result.success.sum())} of {x.shape[0]} inputs")
    return crafted


def _attack(model: nn.Module, name: str, i: int, settings: EvalSettings) -> BatchAttack:
    params = dict(settings.params.get(name, {}))
    eps = float(params.pop("eps", settings.eps))  # an attack's own eps in params overrides the common one
    seed = settings.seed + i
    return timed_batch(lambda x, y, c: craft(name, model, x, y, eps=eps, seed=fd.batch_seed(seed, c), **params))


def _reused(result: AttackResult, seconds: float) -> BatchAttack:
    """An attack already run on every correctly classified input: each batch takes its rows."""

    def run(_x: Tensor, _y: Tensor, c: int, rows: Tensor) -> tuple[Tensor, Tensor, float]:
        return result.x_adv[rows], result.success[rows], seconds if c == 0 else 0.0

    return run


def _plan(
    detector: Detector,
    settings: EvalSettings,
    crafted: dict[str, tuple[AttackResult, float]],
    adaptive: AdaptivePlan | None,
) -> dict[str, BatchAttack]:
    """Every attack to run per batch, under its report key (the adaptive pair as ``adaptive:*``)."""
    model = detector.model
    attacks = {
        name: _reused(*crafted[name]) if name in crafted else _attack(model, name, i, settings)
        for i, name in enumerate(settings.attacks)
    }
    if adaptive is not None:
        attacks["adaptive:adaptive"] = adaptive.adaptive
        if adaptive.counterpart not in attacks:
            attacks["adaptive:plain"] = adaptive.plain
    return attacks


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
    :func:`craft_all`), reused instead of crafting them again. Under torchrun (noticed) every rank
    calls it alike and gets the same figures.
    """
    model = detector.model
    correct = predict_logits(model, x).argmax(1) == y
    position = correct.long().cumsum(0) - 1  # each input's row among the correctly classified ones
    milestone(progress, f"detect eval: {int(correct.sum())} correctly classified clean inputs")
    mutation = isinstance(detector, MutationDetector)
    plan = adaptive_plan(detector, settings) if settings.adaptive else None
    attacks = _plan(detector, settings, crafted or {}, plan)
    batches = len(fd.batch_slices(x.shape[0], settings.batch_size))

    def work(rows: slice, c: int) -> dict[str, Tensor]:
        ok = correct[rows]
        xc, yc = x[rows][ok], y[rows][ok]
        out = batch_fields("clean", decisions(detector, xc), mutation=mutation)
        out |= batch_fields("natural", decisions(detector, x[rows][~ok]), mutation=mutation)
        for key, run in attacks.items():
            x_adv, success, seconds = run(xc, yc, c, position[rows][ok])
            out |= batch_fields(key, decisions(detector, x_adv[success]), mutation=mutation)
            out[f"{key} success"] = success.bool()
            out[f"{key} attack seconds"] = torch.tensor([seconds], dtype=torch.float64, device=x.device)
        milestone(progress, f"detect eval: batch {c + 1} of {batches} done")
        return out

    parts = fd.map_rows(x.shape[0], settings.batch_size, work, device=x.device, what="detect eval")
    clean = joined(parts, "clean")

    def entry(key: str) -> dict[str, Any]:
        seconds = float(parts[f"{key} attack seconds"].sum())
        return attack_entry(parts[f"{key} success"], seconds, joined(parts, key), clean)

    report: dict[str, Any] = {
        "clean": {**summarise(clean, None), "accuracy": rate(correct), "total": int(x.shape[0])},
        "natural_misclassified": summarise(joined(parts, "natural"), clean),
        "attacks": {name: entry(name) for name in settings.attacks},
    }
    if clean["mutants"] is not None:
        report["clean"]["mutants_histogram"] = torch.bincount(clean["mutants"].cpu()).tolist()
    report["sprt"] = sprt_summary(report) if mutation else None
    report["adaptive"] = []
    if plan is not None:
        plain = report["attacks"].get(plan.counterpart) or entry("adaptive:plain")
        report["adaptive"] = [adaptive_entry(plan, plain, entry("adaptive:adaptive"))]
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
