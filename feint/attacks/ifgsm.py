"""Iterative FGSM with a step of eps / T.

The iterative fast gradient sign method as popularised by the CleverHans tutorials, after
Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world", 2016: T steps of size
``eta = eps / T``, ``x_{t+1} = clip(x_t + eta * sign(grad_x J(x_t, y)))`` (Linf), so that
``|x* - x0| <= eps`` holds by construction. A targeted attack descends the target's loss instead.
With ``norm="2"`` each step is ``eta * g / ||g||_2`` and the triangle inequality gives the same
bound. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.steps import iterate
from feint.threat import ThreatModel
from feint.validation import check_positive_int


@register_attack("ifgsm", defaults={"eps": 0.1}, norms=("inf", "2"))
def ifgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 10,
    norm: str = "inf",
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """Iterative FGSM: ``steps`` steps of eps/steps, inside the eps-ball by construction.

    ``seed`` is accepted for a uniform interface; the attack is deterministic.
    """
    threat = ThreatModel(norm, eps, bounds)
    check_positive_int(steps, "steps")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        x_adv = iterate(run, run.x, steps=steps, step_size=run.budget.eps / steps, early_stop=early_stop)
        return run.finish(x_adv)
