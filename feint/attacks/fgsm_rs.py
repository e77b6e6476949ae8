"""FGSM from a random start (FGSM-RS).

Wong, Rice & Kolter 2020, "Fast is better than free: revisiting adversarial training": start
from a uniform random point in the Linf eps-ball, take one signed gradient step of size
``alpha`` (default 1.25 * eps) and project back onto the ball. The attack behind fast
adversarial training (``feint train --adv fgsm_rs``). Linf or L2; x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from torch import Tensor, nn

from feint.attacks.core import ascent_gradient, attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.threat import ThreatModel, make_generator
from feint.validation import check_nonnegative


@register_attack("fgsm_rs", defaults={"eps": 0.1}, norms=("inf", "2"))
def fgsm_rs(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    alpha: float | None = None,
    norm: str = "inf",
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
) -> AttackResult:
    """One signed step of size alpha (1.25 eps) from a uniform random start (Wong et al. 2020)."""
    threat = ThreatModel(norm, eps, bounds)
    if alpha is not None:
        check_nonnegative(alpha, "alpha")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        budget = run.budget
        step = run.step(1.25 * budget.eps if alpha is None else alpha)
        start = budget.random_start(run.x, generator=make_generator(seed, x.device))
        grad, _ = ascent_gradient(run.model, start, run.labels, targeted=run.targeted)
        return run.finish(start + step * budget.steepest(grad))
