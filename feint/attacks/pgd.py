"""Projected Gradient Descent.

Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
Adversarial Attacks", ICLR 2018: from a uniform random point in the ball, repeat
``x <- P_{B(x0, eps) ∩ bounds}(x + step_size * steepest(grad_x J(x, y)))`` where the steepest
direction is ``sign(g)`` for Linf and ``g / ||g||_2`` for L2. ``restarts`` runs it again from new
random points (with ``early_stop`` only on the samples still robust) and keeps each sample's best.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.steps import iterate, over_attempts
from feint.threat import ThreatModel, make_generator
from feint.validation import check_nonnegative, check_positive_int


@register_attack("pgd", defaults={"eps": 0.1}, norms=("inf", "2"))
def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "inf",
    restarts: int = 1,
    random_start: bool = True,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """PGD (Madry et al. 2018), Linf or L2, random start, restarts; step_size defaults to 2.5 * eps / steps."""
    threat = ThreatModel(norm, eps, bounds)
    check_positive_int(steps, "steps")
    check_positive_int(restarts, "restarts")
    if step_size is not None:
        check_nonnegative(step_size, "step_size")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        gen = make_generator(seed, run.x.device)
        size = 2.5 * run.budget.eps / steps if step_size is None else step_size

        def attempt(_: int, rows: Tensor | None) -> Tensor:
            start = run.budget.random_start(run.x, generator=gen) if random_start else run.x
            return iterate(run, start, steps=steps, step_size=size, early_stop=early_stop, rows=rows)

        return over_attempts(run, attempt, count=restarts, early_stop=early_stop)
