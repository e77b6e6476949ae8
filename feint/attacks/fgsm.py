"""Fast Gradient Sign Method.

Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015:
``x_adv = x + eps * sign(grad_x J(theta, x, y))`` (Linf). For a targeted attack the step goes
*down* the loss of the target label. With ``norm="2"`` the step is ``eps * g / ||g||_2``
(the Fast Gradient Method). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from torch import Tensor, nn

from feint.attacks.core import ascent_gradient, attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.threat import ThreatModel


@register_attack("fgsm", defaults={"eps": 0.1}, norms=("inf", "2"))
def fgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    norm: str = "inf",
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> AttackResult:
    """One gradient step of size eps (Goodfellow et al. 2015); targeted with ``targeted=True, target=...``."""
    threat = ThreatModel(norm, eps, bounds)
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        grad, _ = ascent_gradient(run.model, run.x, run.labels, targeted=run.targeted)
        return run.finish(run.x + run.budget.eps * threat.steepest(grad))
