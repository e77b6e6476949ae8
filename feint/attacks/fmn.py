"""Fast Minimum-Norm attack (FMN), Linf and L2.

Pintor, Roli, Brendel & Biggio, "Fast Minimum-norm Adversarial Attacks through Adaptive Norm
Projections", NeurIPS 2021. Each sample carries a radius ``eps_k``: while the iterate is not
adversarial the radius grows (first to the linear estimate ``||delta||_p + |m| / ||grad m||_q`` of
the boundary, then by ``1 + gamma_k``), once adversarial it shrinks by ``1 - gamma_k`` and never
exceeds the best adversarial norm found. The iterate takes an L2-normalised gradient step of size
``alpha_k`` on the logit margin ``m``, is projected onto the ``eps_k``-ball and clipped to the bounds;
``alpha_k`` and ``gamma_k`` follow cosine annealing. Each sample returns its smallest adversarial
iterate; a sample never fooled is returned unchanged.
One departure from the paper: before the first adversarial iterate the radius also grows by at least
``1 + gamma_k`` per step. Clipping to the bounds makes the linear estimate fall short, and without
this the iterate creeps towards the boundary from inside and never crosses it (seen on digits, L2).
Norm: Linf or L2 (``q`` the dual norm: 1 or 2), unbounded. Shapes: x (N, C, H, W), y (N,), target (N,).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, finish_minimum_norm, keep_smaller, margin_loss, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.threat import ThreatModel, flat_norm, parse_norm
from feint.validation import check_choice, check_fraction, check_nonnegative, check_positive_int

_TINY = 1e-12
_DUAL = {"inf": "1", "2": "2"}


def _view(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def _cosine(start: float, end: float, step: int, steps: int) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * step / steps)) / 2


def _project_ball(delta: Tensor, radius: Tensor, norm: str) -> Tensor:
    """Project each sample's ``delta`` onto its own ``radius``-ball (per-sample radii, unlike ThreatModel)."""
    if norm == "inf":
        r = _view(radius, delta)
        return torch.maximum(torch.minimum(delta, r), -r)
    scale = torch.clamp(radius / (flat_norm(delta, "2") + _TINY), max=1.0)
    return delta * _view(scale, delta)


def _margin_and_grad(model: nn.Module, x: Tensor, labels: Tensor, targeted: bool) -> tuple[Tensor, Tensor]:
    """``m`` (> 0 once adversarial) and its input gradient."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        margin = -margin_loss(logits, labels) if targeted else margin_loss(logits, labels)
        (grad,) = torch.autograd.grad(margin.sum(), x)
    return margin.detach(), grad.detach()


@register_attack("fmn", norms=("inf", "2"), minimum_norm=True)
def fmn(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    norm: str = "inf",
    steps: int = 100,
    alpha_init: float = 1.0,
    alpha_final: float | None = None,
    gamma_init: float = 0.05,
    gamma_final: float = 0.001,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> AttackResult:
    """Fast Minimum-Norm (Pintor et al. 2021): the smallest Linf or L2 perturbation found by adaptive projections.

    ``alpha_init`` is the first L2 step size (annealed to ``alpha_final``, default ``alpha_init / 100``),
    ``gamma_init`` the first relative change of the radius (annealed to ``gamma_final``).
    """
    norm = parse_norm(norm)
    check_choice(norm, ("inf", "2"), "FMN norm")
    check_positive_int(steps, "steps")
    check_nonnegative(alpha_init, "alpha_init")
    alpha1 = alpha_init / 100 if alpha_final is None else alpha_final
    check_nonnegative(alpha1, "alpha_final")
    check_fraction(gamma_init, "gamma_init")
    check_fraction(gamma_final, "gamma_final")
    threat = ThreatModel(norm, math.inf, bounds)
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        n = run.x.shape[0]
        labels = run.labels
        delta = torch.zeros_like(run.x)
        radius = torch.zeros(n, device=x.device, dtype=x.dtype)
        best = run.x.clone()
        best_size = torch.full((n,), math.inf, device=x.device, dtype=x.dtype)
        found = torch.zeros(n, dtype=torch.bool, device=x.device)
        for k in range(steps + 1):
            x_adv = run.x + delta
            margin, grad = _margin_and_grad(run.model, x_adv, labels, run.targeted)
            size = flat_norm(delta, norm)
            adversarial = margin > 0
            best, best_size = keep_smaller(best, best_size, x_adv, size, adversarial)
            found |= adversarial
            if k == steps:
                break
            gamma = _cosine(gamma_init, gamma_final, k, steps)
            estimate = size + margin.abs() / (flat_norm(grad, _DUAL[norm]) + _TINY)
            grow = torch.where(found, radius * (1 + gamma), torch.maximum(estimate, radius * (1 + gamma)))
            shrink = torch.minimum(radius * (1 - gamma), best_size)
            radius = torch.where(adversarial, shrink, grow)
            alpha = _cosine(alpha_init, alpha1, k, steps)
            step = grad / _view(flat_norm(grad, "2") + _TINY, grad)
            delta = _project_ball(delta + alpha * step, radius, norm)
            delta = threat.clip(run.x + delta) - run.x
        return finish_minimum_norm(run, best)
