"""TRADES: a clean loss plus a robustness regulariser.

Zhang, Yu, Jiao, Xing, El Ghaoui & Jordan 2019, "Theoretically Principled Trade-off between
Robustness and Accuracy": minimise
``CE(f(x), y) + beta * max_{||x' - x||_inf <= eps} KL(softmax f(x) || softmax f(x'))``.
The inner maximum starts at ``x + 0.001 * N(0, I)`` and takes ``steps`` signed gradient steps of
``step_size`` (default eps / 4) on the KL divergence, projected onto the ball (their Algorithm 1).
``beta`` (default 6, the paper's choice) trades clean accuracy for robustness.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.attacks.steps import value_and_grad
from feint.defenses.base import AdversarialRecipe, Step, register_recipe
from feint.defenses.schedule import CYCLIC_DEFAULTS, CyclicLR
from feint.validation import check_nonnegative, check_positive_int

START_NOISE = 0.001


def kl_to(clean_log_probs: Tensor, logits: Tensor) -> Tensor:
    """(N,) ``KL(p_clean || softmax(logits))`` from the clean log-probabilities (N, K)."""
    return F.kl_div(F.log_softmax(logits, 1), clean_log_probs, reduction="none", log_target=True).sum(1)


@register_recipe("trades")
@dataclass(frozen=True, kw_only=True)
class TRADES(CyclicLR, AdversarialRecipe):
    """CE(x) + beta * KL(f(x) || f(x')), x' maximising the KL by ``steps`` sign steps of ``step_size`` (eps/4)."""

    train_defaults: ClassVar[dict[str, Any]] = CYCLIC_DEFAULTS  # with the cyclic learning rate

    beta: float = 6.0
    steps: int = 10
    step_size: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(self.beta, "beta")
        check_positive_int(self.steps, "steps")
        if self.step_size is not None:
            check_nonnegative(self.step_size, "step_size")

    def _inner_max(self, model: nn.Module, x: Tensor, clean_log_probs: Tensor, step: Step) -> Tensor:
        threat = self.threat
        ball = threat.ball(x)
        size = self.eps / 4 if self.step_size is None else self.step_size
        noise = torch.randn(x.shape, generator=step.generator(x.device), device=x.device, dtype=x.dtype)
        point = threat.project_ball(x + START_NOISE * noise, ball)
        with eval_mode(model):
            for _ in range(self.steps):
                _, grad, _ = value_and_grad(model, point, lambda logits: kl_to(clean_log_probs, logits))
                point = threat.project_ball(point + size * threat.steepest(grad), ball)
        return point.detach()

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        with eval_mode(model), torch.no_grad():
            target = F.log_softmax(model(x), 1)
        x_adv = self._inner_max(model, x, target, step)
        logits = model(x)
        robust = kl_to(F.log_softmax(logits, 1), model(x_adv)).mean()
        return F.cross_entropy(logits, y) + self.beta * robust
