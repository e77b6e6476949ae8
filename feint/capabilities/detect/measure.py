"""Measuring a detector on one group of inputs: scores, its own decisions, timing, mutants, ROC.

Shapes: x (N, C, H, W); scores and decisions (N,).
"""

from __future__ import annotations

import math
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
from feint.errors import InputError
from feint.validation import check_nonnegative, check_positive_int

DEFAULT_ATTACKS = ("fgsm", "pgd", "cw", "jsma", "deepfool")
MAX_ADAPTIVE_STEPS = 10_000


def check_finite_positive(value: Any, name: str) -> None:
    """A radius: a finite number above 0 (an infinite one leaves nothing to detect)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 0 < value < math.inf:
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class EvalSettings:
    """``params``: per-attack options, e.g. ``{"cw": {"steps": 50}}`` (an ``eps`` there overrides
    ``eps``); ``kappa``: the adaptive C&W's confidence against mutation testing; ``adaptive_*``: the
    density-aware PGD's steps and weight; ``batch_size``: inputs attacked and decided together, each
    batch with its own seeds."""

    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    eps: float = 0.1
    adaptive: bool = True
    kappa: float = 10.0
    adaptive_steps: int = 100
    adaptive_weight: float = 1.0
    seed: int = 0
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 128

    def __post_init__(self) -> None:
        check_finite_positive(self.eps, "eps (--eps)")
        for attack, options in self.params.items():
            if "eps" in options:
                check_finite_positive(options["eps"], f"{attack}.eps (--param {attack}.eps)")
        check_nonnegative(self.kappa, "kappa (--kappa, the adaptive C&W's confidence)")
        check_nonnegative(self.adaptive_weight, "adaptive_weight")
        check_positive_int(self.adaptive_steps, "adaptive_steps (--adaptive-steps)")
        if self.adaptive_steps > MAX_ADAPTIVE_STEPS:
            raise InputError(
                f"adaptive_steps (--adaptive-steps) must be at most {MAX_ADAPTIVE_STEPS:,} (each step is a forward "
                f"and backward pass over every input; PGD has converged long before), got {self.adaptive_steps:,}"
            )
        check_positive_int(self.batch_size, "batch_size (--batch-size)")


def decisions(detector: Detector, x: Tensor) -> dict[str, Any]:
    """Scores, the detector's own decisions, mutants used (mutation testing) and seconds per decision."""
    if x.shape[0] == 0:
        empty = torch.zeros(0, device=x.device)
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


def batch_fields(key: str, group: dict[str, Any], *, mutation: bool) -> dict[str, Tensor]:
    """One batch's ``decisions`` of group ``key`` as tensors that can be gathered over batches and
    ranks (the same fields and dtypes for every batch, an empty one included)."""
    n = int(group["scores"].numel())
    device = group["scores"].device
    out = {
        f"{key} scores": group["scores"].double(),
        f"{key} flagged": group["flagged"].bool(),
        f"{key} undecided": torch.tensor([group["undecided"]], dtype=torch.int64, device=device),
        f"{key} seconds": torch.tensor([(group["seconds"] or 0.0) * n], dtype=torch.float64, device=device),
    }
    if mutation:
        mutants = group["mutants"]
        out[f"{key} mutants"] = (
            mutants.long() if mutants is not None else torch.zeros(0, dtype=torch.long, device=device)
        )
    return out


def joined(parts: dict[str, Tensor], key: str) -> dict[str, Any]:
    """Group ``key``'s :func:`decisions` over every batch, from :func:`batch_fields` concatenated."""
    scores = parts[f"{key} scores"]
    n = int(scores.numel())
    return {
        "scores": scores,
        "flagged": parts[f"{key} flagged"],
        "mutants": parts.get(f"{key} mutants"),
        "seconds": float(parts[f"{key} seconds"].sum()) / n if n else None,
        "undecided": int(parts[f"{key} undecided"].sum()),
    }


def attack_entry(success: Tensor, seconds: float, group: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
    """The report entry of one attack: ``success`` per attacked input, ``group`` the detector's
    decisions on the inputs it fooled."""
    entry = summarise(group, clean)
    attacked = int(success.numel())
    entry |= {"attacked": attacked, "success_rate": rate(success), "attack_seconds": seconds}
    entry["evaded"] = float((~group["flagged"]).sum()) / max(1, attacked)
    if group["mutants"] is not None and group["mutants"].numel():
        entry["mutants_histogram"] = torch.bincount(group["mutants"].cpu()).tolist()
    return entry


def timed(fn: Callable[[], AttackResult]) -> tuple[AttackResult, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
