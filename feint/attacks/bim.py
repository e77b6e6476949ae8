"""The Basic Iterative Method and the iterative least-likely class method.

Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world", 2016 (Linf):

- BIM: ``x_{t+1} = Clip_{x, eps}(x_t + alpha * sign(grad_x J(x_t, y)))`` with ``alpha = 1``
  (on the 0-255 scale) and ``min(eps + 4, 1.25 eps)`` iterations (eps on the 0-255 scale).
- Iterative least-likely class: the same steps *down* the loss of ``y_LL = argmin_y p(y | x)``, the
  clean input's least-likely class. It succeeds only when the prediction *becomes* ``y_LL``.

Here the 0-255 scale is mapped onto ``bounds``: one grey level is ``(hi - lo) / 255``.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.steps import iterate
from feint.attacks.targets import rank_other_classes
from feint.errors import InputError
from feint.threat import ThreatModel
from feint.validation import check_nonnegative, check_positive_int


def bim_schedule(threat: ThreatModel, steps: int | None, step_size: float | None) -> tuple[int, float]:
    """Kurakin et al.'s defaults: a step of one grey level, ``min(eps + 4, 1.25 eps)`` steps (0-255 scale).

    ``threat`` is the run's budget, whose eps is capped at the bounds' range, so at most 259 steps (255 + 4) are derived.
    """
    level = (threat.bounds[1] - threat.bounds[0]) / 255.0
    if steps is None:
        e = threat.eps / level
        steps = max(1, math.ceil(min(e + 4, 1.25 * e)))
    check_positive_int(steps, "steps")
    if step_size is None:
        step_size = level
    check_nonnegative(step_size, "step_size")
    return steps, step_size


@register_attack("bim", defaults={"eps": 0.1})
def bim(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int | None = None,
    step_size: float | None = None,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """Basic Iterative Method (Kurakin et al. 2016): sign steps of one grey level, clipped to the eps-ball.

    ``steps``/``step_size`` default to the paper's schedule; ``seed`` is accepted for a uniform
    interface, the attack is deterministic.
    """
    threat = ThreatModel("inf", eps, bounds)
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        steps, step_size = bim_schedule(run.budget, steps, step_size)
        return run.finish(iterate(run, run.x, steps=steps, step_size=step_size, early_stop=early_stop))


@register_attack("ll_class", defaults={"eps": 0.1}, targeted=False)
def ll_class(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int | None = None,
    step_size: float | None = None,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """Iterative least-likely class (Kurakin et al. 2016): targeted BIM towards the clean least-likely class.

    The target is each clean input's least-likely class other than ``y`` (one counted forward
    pass); the result carries it as ``target`` and ``success`` means the prediction *is* that
    class, a stricter verdict than misclassification. The attack chooses its own target, so
    ``targeted``/``target`` must stay unset.
    """
    if targeted or target is not None:
        raise InputError("ll_class picks its own target (the least-likely class); leave targeted/target unset")
    threat = ThreatModel("inf", eps, bounds)
    with attack_run(model, x, y, threat) as run:
        steps, step_size = bim_schedule(run.budget, steps, step_size)
        with torch.no_grad():
            clean = run.model(run.x)
        run = dataclasses.replace(run, target=rank_other_classes(clean, run.y)[:, -1])
        return run.finish(iterate(run, run.x, steps=steps, step_size=step_size, early_stop=early_stop))
