"""PGD adversarial training.

Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning Models Resistant to
Adversarial Attacks": minimise ``E max_{||delta||_inf <= eps} J(x + delta, y)``, the inner maximum
approximated by PGD from a uniform random start (``steps`` steps of ``step_size``, default
``2.5 eps / steps``); the model trains on the adversarial points only. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import AdversarialRecipe, Step, register_recipe
from feint.defenses.perturb import pgd_points
from feint.defenses.schedule import CYCLIC_DEFAULTS, CyclicLR
from feint.validation import check_nonnegative, check_positive_int


@register_recipe("pgd-at")
@dataclass(frozen=True, kw_only=True)
class PGDAT(CyclicLR, AdversarialRecipe):
    """Train on PGD points (``steps`` steps of ``step_size``, default 2.5 eps / steps, random start)."""

    train_defaults: ClassVar[dict[str, Any]] = CYCLIC_DEFAULTS  # with the cyclic learning rate

    steps: int = 10
    step_size: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.steps, "steps")
        if self.step_size is not None:
            check_nonnegative(self.step_size, "step_size")

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        size = 2.5 * self.eps / self.steps if self.step_size is None else self.step_size
        gen = step.generator(x.device)
        x_adv = pgd_points(model, x, y, self.threat, steps=self.steps, step_size=size, generator=gen)
        return F.cross_entropy(model(x_adv), y)
