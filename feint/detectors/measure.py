"""Measuring a detector on one group of inputs: scores, its own decisions, timing, mutants, ROC.

Shapes: x (N, C, H, W); scores and decisions (N,).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from feint.attacks.result import AttackResult
from feint.detectors.base import Detector
from feint.detectors.metrics import mean, rate, roc
from feint.detectors.mutation import MutationDetector

DEFAULT_ATTACKS = ("fgsm", "pgd", "cw", "jsma", "deepfool")


@dataclass(frozen=True)
class EvalSettings:
    """``params``: per-attack options, e.g. ``{"cw": {"steps": 50}}`` (an ``eps`` there overrides ``eps``); ``kappa``: the adaptive C&W's
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


def timed(fn: Callable[[], AttackResult]) -> tuple[AttackResult, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
