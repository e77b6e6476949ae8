"""The catastrophic-overfitting guard of fast adversarial training.

Wong, Rice & Kolter 2020 ("Fast is better than free", sec. 5.3): FGSM training can suddenly
overfit to its own single-step examples, after which its robust accuracy against PGD collapses
to near zero within an epoch. They check PGD accuracy on a training minibatch each epoch and stop
when it drops. Here: after each epoch, robust accuracy on a fixed seeded subset of the training
data (:func:`feint.defenses.monitor.robust_accuracy`); when it falls below ``1 - drop`` times the
best seen so far (by at least ``MIN_DROP``, far beyond the check's noise, so that wobbling near
chance level early in training is no collapse), the run rolls back to the last good epoch and stops.
Shapes: x (N, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from feint.defenses.monitor import robust_accuracy
from feint.threat import ThreatModel

MIN_DROP = 0.1


@dataclass(frozen=True)
class GuardVerdict:
    robust_accuracy: float
    collapsed: bool


class OverfitGuard:
    """Holds the fixed check subset and the best robust accuracy seen (saved with each checkpoint)."""

    def __init__(self, x: Tensor, y: Tensor, threat: ThreatModel, *, drop: float, seed: int) -> None:
        self.x, self.y, self.threat, self.drop, self.seed = x, y, threat, drop, seed
        self.best = 0.0

    def check(self, model: nn.Module) -> GuardVerdict:
        """Measure the model now; collapsed when below ``(1 - drop)`` of the best (which it then keeps)."""
        acc = robust_accuracy(model, self.x, self.y, self.threat, seed=self.seed)
        collapsed = acc < (1 - self.drop) * self.best and acc < self.best - MIN_DROP
        if not collapsed:
            self.best = max(self.best, acc)
        return GuardVerdict(acc, collapsed)

    def state(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", 0.0))
