"""RAND+FGSM: a random sign step, then FGSM with the rest of the budget.

Tramèr, Kurakin, Papernot, Goodfellow, Boneh & McDaniel, "Ensemble Adversarial Training:
Attacks and Defenses", ICLR 2018 (Linf): ``x' = x + alpha * sign(N(0, I))``, then
``x* = x' + (eps - alpha) * sign(grad_x' J(x', y))``. The random step escapes the sharp loss
curvature around data points that makes single-step attacks weak against adversarially trained
models. ``|x* - x|_inf <= eps`` by construction. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.steps import iterate
from feint.errors import InputError
from feint.threat import ThreatModel, make_generator
from feint.validation import check_nonnegative


@register_attack("rand_fgsm", defaults={"eps": 0.1})
def rand_fgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    alpha: float | None = None,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """RAND+FGSM (Tramèr et al. 2018): a random sign step of ``alpha`` (default eps/2), then FGSM with eps - alpha."""
    threat = ThreatModel("inf", eps, bounds)
    if alpha is not None:
        check_nonnegative(alpha, "alpha")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        budget = run.budget.eps
        alpha = budget / 2 if alpha is None else float(alpha)
        if alpha > budget:
            capped = f" (eps {threat.eps:g} is capped at the bounds' range)" if budget < threat.eps else ""
            raise InputError(f"alpha must lie in [0, eps] = [0, {budget:g}]{capped}, got {alpha!r}")
        gen = make_generator(seed, run.x.device)
        noise = torch.randn(run.x.shape, generator=gen, device=run.x.device, dtype=run.x.dtype)
        start = threat.clip(run.x + alpha * noise.sign())
        x_adv = iterate(run, start, steps=1, step_size=budget - alpha, early_stop=early_stop)
        return run.finish(x_adv)
