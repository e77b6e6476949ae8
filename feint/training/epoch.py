"""What a training run measures after each epoch: clean and robust test accuracy, and the guard.

The robust accuracy is :func:`feint.defenses.monitor.robust_accuracy` (a short APGD-DLR) on a
fixed seeded subset of the test data, at the recipe's eps: a quick progress figure, not an audit.

Under torchrun every rank holds the same model here (its BatchNorm statistics matched to rank 0's,
:func:`feint.distributed.match_root`): the clean accuracy is shared out, while the robust accuracy
and the guard's verdict are rank 0's, sent to every rank, so that all roll back or stop together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from feint import distributed as fd
from feint.attacks.result import predict_logits
from feint.data.dataset import Dataset
from feint.defenses.guard import OverfitGuard
from feint.defenses.monitor import CHECK_STEPS, robust_accuracy
from feint.threat import ThreatModel

MONITOR_SAMPLES = 500


def accuracy(model: nn.Module, data: Dataset, device: torch.device) -> float:
    """Clean accuracy on ``data``; under torchrun each rank scores its share and the counts are summed."""
    part = fd.shard(len(data))
    logits = predict_logits(model, data.x[part].to(device))
    hits = (logits.argmax(1) == data.y[part].to(device)).sum()
    counts = fd.all_reduce_sum(torch.stack([hits, torch.tensor(logits.shape[0], device=device)]), "scoring")
    return float(counts[0]) / max(int(counts[1]), 1)


@dataclass(frozen=True)
class EpochReport:
    test_accuracy: float | None = None
    robust_accuracy: float | None = None
    eps: float | None = None
    guard_accuracy: float | None = None
    collapsed: bool = False

    def numbers(self) -> dict[str, Any]:
        """The figures measured, for the run's history."""
        out: dict[str, Any] = {}
        if self.test_accuracy is not None:
            out["test_accuracy"] = self.test_accuracy
        if self.robust_accuracy is not None:
            out.update(robust_accuracy=self.robust_accuracy, robust_eps=self.eps)
        if self.guard_accuracy is not None:
            out.update(guard_robust_accuracy=self.guard_accuracy, collapsed=self.collapsed)
        return out

    def line(self) -> str:
        """The figures as the end of a progress line."""
        parts = []
        if self.test_accuracy is not None:
            parts.append(f"test accuracy {self.test_accuracy:.4f}")
        if self.robust_accuracy is not None:
            parts.append(f"robust accuracy {self.robust_accuracy:.4f} (APGD-DLR-{CHECK_STEPS}, eps {self.eps:g})")
        if self.guard_accuracy is not None:
            verdict = "collapsed: rolled back to the last good epoch and stopped" if self.collapsed else "ok"
            parts.append(f"guard {self.guard_accuracy:.4f} ({verdict})")
        return "".join(f", {p}" for p in parts)


def evaluate_epoch(
    model: nn.Module, test: Dataset | None, threat: ThreatModel | None, guard: OverfitGuard | None, *, seed: int
) -> EpochReport:
    """Measure ``model`` after an epoch (its parameters' device); every rank gets the same report."""
    device = next(model.parameters()).device
    clean = accuracy(model, test, device) if test is not None else None
    report = None
    if fd.is_root():
        report = asdict(_robust_report(model, test, threat, guard, seed=seed, clean=clean))
    return EpochReport(**fd.broadcast_json(report, "sharing the end-of-epoch check"))


def _robust_report(
    model: nn.Module,
    test: Dataset | None,
    threat: ThreatModel | None,
    guard: OverfitGuard | None,
    *,
    seed: int,
    clean: float | None,
) -> EpochReport:
    device = next(model.parameters()).device
    robust = eps = None
    if test is not None and threat is not None:
        subset = test.sample(MONITOR_SAMPLES, seed=seed)
        robust = robust_accuracy(model, subset.x.to(device), subset.y.to(device), threat, seed=seed)
        eps = threat.eps
    if guard is None:
        return EpochReport(clean, robust, eps)
    verdict = guard.check(model)
    return EpochReport(clean, robust, eps, verdict.robust_accuracy, verdict.collapsed)
