"""Carlini & Wagner L2 attack.

Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017.
Minimises ``||x' - x||_2^2 + c * f6(x')`` over ``w`` with ``x' = lo + (hi - lo) (tanh(w) + 1) / 2``
(the change of variables keeps ``x'`` inside the bounds without clipping), where
``f6 = max(Z_y - max_{j != y} Z_j, -kappa)`` untargeted or ``max(max_{j != t} Z_j - Z_t, -kappa)``
targeted, with Adam on ``w`` and a per-sample binary search over ``c``. Each sample keeps its
smallest L2 perturbation that met the ``kappa`` margin; a sample never fooled is returned unchanged.
The default ``lr`` is 0.05 rather than the paper's 0.01, which assumes 10,000 Adam steps, not 100.
Norm: L2, unbounded (a minimum-norm attack). Shapes: x (N, C, H, W), y (N,), target (N,).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, finish_minimum_norm, keep_smaller, margin_loss, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.errors import InputError
from feint.threat import ThreatModel, flat_norm
from feint.validation import check_nonnegative, check_positive_int

_BIG = 1e10
_TANH_LIMIT = 1 - 1e-6


def _to_tanh_space(x: Tensor, lo: float, hi: float) -> Tensor:
    unit = ((x - lo) / (hi - lo) * 2 - 1).clamp(-_TANH_LIMIT, _TANH_LIMIT)
    return torch.atanh(unit)


def _from_tanh_space(w: Tensor, lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * (torch.tanh(w) + 1) / 2


def _margin(logits: Tensor, labels: Tensor, targeted: bool) -> Tensor:
    """How far past the decision boundary each sample is (> 0 once adversarial): ``-f6`` before the clamp."""
    return -margin_loss(logits, labels) if targeted else margin_loss(logits, labels)


def _next_const(const: Tensor, lower: Tensor, upper: Tensor, found: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Binary search on ``c``: halve towards ``lower`` after a success, else raise (x10 until bracketed)."""
    upper = torch.where(found, torch.minimum(upper, const), upper)
    lower = torch.where(found, lower, torch.maximum(lower, const))
    bracketed = upper < _BIG / 10
    const = torch.where(bracketed, (lower + upper) / 2, const * 10)
    return const, lower, upper


@register_attack("cw", norms=("2",), minimum_norm=True)
def cw(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    confidence: float = 0.0,
    binary_steps: int = 9,
    steps: int = 100,
    lr: float = 0.05,
    initial_const: float = 1e-2,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> AttackResult:
    """Carlini & Wagner L2 (2017): the smallest L2 perturbation found by Adam over tanh space and a search on c."""
    check_nonnegative(confidence, "confidence (kappa)")
    check_positive_int(binary_steps, "binary_steps")
    check_positive_int(steps, "steps")
    check_nonnegative(lr, "lr")
    if lr == 0:
        raise InputError("lr must be > 0 for Adam to move; the default is 0.05")
    check_nonnegative(initial_const, "initial_const")
    threat = ThreatModel("2", math.inf, bounds)
    target = resolve_target(y, target, targeted)
    lo, hi = threat.bounds
    with attack_run(model, x, y, threat, target=target) as run:
        n = run.x.shape[0]
        labels = run.labels
        w0 = _to_tanh_space(run.x, lo, hi)
        with torch.no_grad():
            clean_ok = _margin(run.model(run.x), labels, run.targeted) > confidence
        best = run.x.clone()
        best_size = torch.where(clean_ok, 0.0, math.inf).to(x.dtype)
        const = torch.full((n,), float(initial_const), device=x.device, dtype=x.dtype)
        lower = torch.zeros_like(const)
        upper = torch.full_like(const, _BIG)
        for _ in range(binary_steps):
            w = w0.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=lr)
            found = torch.zeros(n, dtype=torch.bool, device=x.device)
            for _ in range(steps):
                with torch.enable_grad():
                    x_adv = _from_tanh_space(w, lo, hi)
                    logits = run.model(x_adv)
                    margin = _margin(logits, labels, run.targeted)
                    size = flat_norm(x_adv - run.x, "2")
                    f6 = torch.clamp(-margin, min=-confidence)
                    loss = (size**2 + const * f6).sum()
                    (w.grad,) = torch.autograd.grad(loss, [w])  # only w: the model's own .grad stays untouched
                ok = margin.detach() > confidence
                found |= ok
                best, best_size = keep_smaller(best, best_size, x_adv.detach(), size.detach(), ok)
                optimizer.step()
            const, lower, upper = _next_const(const, lower, upper, found)
        return finish_minimum_norm(run, best)
