"""Momentum Iterative FGSM.

Dong, Liao, Pang, Su, Zhu, Hu & Li, "Boosting Adversarial Attacks with Momentum", CVPR 2018:
``g_{t+1} = mu * g_t + grad / ||grad||_1`` and ``x_{t+1} = Clip_{x, eps}(x_t + alpha * sign(g_{t+1}))``
with ``alpha = eps / T`` (Linf; with ``norm="2"`` the step is ``alpha * g / ||g||_2``). The
accumulated direction escapes poor local maxima and transfers better to other models.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.steps import iterate
from feint.threat import ThreatModel
from feint.validation import check_nonnegative, check_positive_int


@register_attack("mifgsm", defaults={"eps": 0.1}, norms=("inf", "2"))
def mifgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 10,
    decay: float = 1.0,
    step_size: float | None = None,
    norm: str = "inf",
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """MI-FGSM (Dong et al. 2018): momentum ``decay`` (mu) over L1-normalised gradients, steps of eps/steps.

    ``seed`` is accepted for a uniform interface; the attack is deterministic.
    """
    threat = ThreatModel(norm, eps, bounds)
    check_positive_int(steps, "steps")
    check_nonnegative(decay, "decay")
    if step_size is not None:
        check_nonnegative(step_size, "step_size")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        size = run.budget.eps / steps if step_size is None else step_size
        x_adv = iterate(run, run.x, steps=steps, step_size=size, early_stop=early_stop, decay=float(decay))
        return run.finish(x_adv)
