"""DeepFool, L2 and Linf.

Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and accurate method to fool deep neural
networks", CVPR 2016. At each iterate the classifier is linearised around the current point; for
every candidate class k (the ``candidates`` classes with the highest clean logits) the distance to
the linearised boundary is ``|f_k| / ||w_k||_q`` with ``f_k = Z_k - Z_y``, ``w_k = grad f_k`` and ``q``
the dual norm (2 for L2, 1 for Linf). The step reaches the nearest of them; the total perturbation
is scaled by ``1 + overshoot`` to cross it. Samples leave the active batch as soon as they are
misclassified; a sample not fooled within ``max_iter`` iterations is returned unchanged.
Untargeted only. Norm: L2 or Linf, unbounded (a minimum-norm attack). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, finish_minimum_norm
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.errors import InputError
from feint.threat import ThreatModel, flat_norm, parse_norm
from feint.validation import check_choice, check_nonnegative, check_positive_int

_TINY = 1e-12
_EXTRA = 1e-4  # the paper's small push so a step lands just past the linearised boundary


def _boundary_gradients(model: nn.Module, x: Tensor, others: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Logits at ``x``, ``f = Z_k - Z_y`` (A, K') and ``grad f`` (A, K', D): one backward per candidate class."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        true = logits.gather(1, y[:, None])
        diffs = logits.gather(1, others) - true
        grads = [
            torch.autograd.grad(diffs[:, k].sum(), x, retain_graph=k + 1 < others.shape[1])[0].flatten(1)
            for k in range(others.shape[1])
        ]
    return logits.detach(), diffs.detach(), torch.stack(grads, 1)


def _step(diffs: Tensor, grads: Tensor, norm: str) -> Tensor:
    """The smallest step (A, D) onto the nearest linearised boundary, in ``norm``."""
    dual = "1" if norm == "inf" else "2"
    grad_size = flat_norm(grads.flatten(0, 1), dual).view(diffs.shape) + _TINY
    distance = diffs.abs() / grad_size
    nearest = distance.argmin(1)
    pick = nearest[:, None]
    w = grads[torch.arange(grads.shape[0], device=grads.device), nearest]
    reach = (diffs.gather(1, pick).abs() + _EXTRA) / grad_size.gather(1, pick)
    if norm == "inf":
        return reach * w.sign()
    return reach * w / grad_size.gather(1, pick)


@register_attack("deepfool", norms=("2", "inf"), targeted=False, minimum_norm=True)
def deepfool(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    norm: str = "2",
    overshoot: float = 0.02,
    max_iter: int = 50,
    candidates: int = 10,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> AttackResult:
    """DeepFool (Moosavi-Dezfooli et al. 2016): iterate to the nearest linearised boundary, L2 or Linf."""
    norm = parse_norm(norm)
    check_choice(norm, ("2", "inf"), "DeepFool norm")
    check_nonnegative(overshoot, "overshoot")
    check_positive_int(max_iter, "max_iter")
    check_positive_int(candidates, "candidates")
    if candidates < 2:
        raise InputError(f"candidates must be >= 2 (the true class and at least one other), got {candidates}")
    if targeted or target is not None:
        raise InputError("DeepFool is untargeted only; use cw, fmn or jsma for a targeted minimum-norm attack")
    threat = ThreatModel(norm, math.inf, bounds)
    with attack_run(model, x, y, threat) as run:
        x0 = run.x
        with torch.no_grad():
            clean = run.model(x0)
        k = min(candidates, clean.shape[1]) - 1
        others = clean.scatter(1, y[:, None], -math.inf).topk(k, dim=1).indices
        total = torch.zeros_like(x0.flatten(1))
        x_adv = x0.clone()
        active = (clean.argmax(1) == y).nonzero().squeeze(1)
        for _ in range(max_iter):
            if active.numel() == 0:
                break
            current = x_adv[active]
            with run.model.on_rows(active):
                logits, diffs, grads = _boundary_gradients(run.model, current, others[active], y[active])
            fooled = logits.argmax(1) != y[active]
            active, diffs, grads = active[~fooled], diffs[~fooled], grads[~fooled]
            if active.numel() == 0:
                break
            total[active] += _step(diffs, grads, norm)
            moved = x0[active] + (1 + overshoot) * total[active].view_as(x0[active])
            x_adv[active] = threat.clip(moved)
        return finish_minimum_norm(run, x_adv)
