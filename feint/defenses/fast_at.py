"""Fast adversarial training: FGSM from a random start, a cyclic learning rate, and a guard.

Wong, Rice & Kolter 2020, "Fast is better than free: Revisiting adversarial training": each batch
takes one signed gradient step of ``step_size`` (default 1.25 eps) from a uniform random point in
the Linf eps-ball, projected back (FGSM-RS), and the model trains on those points only; the
learning rate rises linearly from 0 to its maximum (the run's ``lr``) over the first 2/5 of
training and falls back to 0 (their cyclic schedule). Single-step training can overfit
catastrophically — robust accuracy collapses within an epoch — so after every epoch
:class:`~feint.defenses.guard.OverfitGuard` measures robust accuracy on a fixed training subset
and rolls back to the last good epoch when it collapses (their early stopping, sec. 5.3).
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import AdversarialRecipe, Step, register_recipe
from feint.defenses.context import TrainContext
from feint.defenses.guard import OverfitGuard
from feint.defenses.perturb import pgd_points
from feint.defenses.schedule import CYCLIC_DEFAULTS, CyclicLR
from feint.errors import InputError
from feint.validation import check_fraction, check_nonnegative, check_positive_int


@register_recipe("fast-at")
@dataclass(frozen=True, kw_only=True)
class FastAT(CyclicLR, AdversarialRecipe):
    """FGSM-RS training (step_size default 1.25 eps), cyclic lr, catastrophic-overfitting guard.

    The guard checks ``guard_samples`` training inputs after each epoch and stops when their robust
    accuracy falls below ``1 - guard_drop`` of the best so far (``guard=False`` turns it off).
    """

    step_size: float | None = None
    guard: bool = True
    guard_samples: int = 512
    guard_drop: float = 0.5

    # Tuned for Fashion-MNIST at eps 0.1 on the default convnet: about 2 CPU-minutes (see the README).
    train_defaults: ClassVar[dict[str, Any]] = CYCLIC_DEFAULTS

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step_size is not None:
            check_nonnegative(self.step_size, "step_size")
        if not isinstance(self.guard, bool):
            raise InputError(f"guard must be true or false, got {self.guard!r}")
        check_positive_int(self.guard_samples, "guard_samples")
        check_fraction(self.guard_drop, "guard_drop")

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        size = 1.25 * self.eps if self.step_size is None else self.step_size
        x_adv = pgd_points(model, x, y, self.threat, steps=1, step_size=size, generator=step.generator(x.device))
        return F.cross_entropy(model(x_adv), y)

    def guard_for(self, context: TrainContext) -> OverfitGuard | None:
        if not self.guard:
            return None
        seed = int(context.settings["seed"])
        subset = context.train_data.sample(self.guard_samples, seed=seed + 1)
        return OverfitGuard(
            subset.x.to(context.device), subset.y.to(context.device), self.threat, drop=self.guard_drop, seed=seed
        )
