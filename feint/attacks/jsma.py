"""Jacobian-based Saliency Map Attack (JSMA), an L0 attack over pairs of features.

Papernot, McDaniel, Jha, Fredrikson, Celik & Swami, "The Limitations of Deep Learning in
Adversarial Settings", IEEE EuroS&P 2016. Each iteration takes the forward derivative of the
target logit ``a = dZ_t/dx`` and of the other logits ``b = sum_{j != t} dZ_j/dx`` and picks the pair
of features (p, q) in the search domain maximising ``(a_p + a_q) * |b_p + b_q|`` subject to
``a_p + a_q > 0`` and ``b_p + b_q < 0`` (signs flipped for ``theta < 0``); both features move by
``theta * (hi - lo)`` and leave the search domain, so each feature changes at most once. The
domain starts as the features that can still move in the direction of ``theta``. A sample stops
once it reaches its goal, when ``gamma`` of its features have changed, or when no pair qualifies.
By default the derivatives are of the logits Z (``space="logits"``): the paper's softmax outputs F
(``space="probs"``) have gradients that vanish on confident models — which is why defensive
distillation defeats the paper's form while the logit form breaks it (Carlini & Wagner 2016,
"Defensive Distillation is Not Robust to Adversarial Examples"). Features are the C*H*W input values.

Untargeted (``targeted=False``): each sample gets a seeded random wrong class as the direction of
the saliency map, and stops as soon as it is misclassified (into any class).
Norm: L0, at most ``floor(gamma * C*H*W)`` features. Shapes: x (N, C, H, W), y (N,), target (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult, is_success
from feint.attacks.targets import random_targets
from feint.errors import InputError
from feint.threat import ThreatModel, check_bounds
from feint.validation import check_choice, check_images

_PAIR_BUDGET = 1 << 24  # pair-matrix entries scored at once, to bound memory for large inputs


SPACES = ("logits", "probs")


def _saliency_gradients(model: nn.Module, x: Tensor, goal: Tensor, space: str) -> tuple[Tensor, Tensor, Tensor]:
    """Logits (A, K), ``dS_t/dx`` and ``sum_{j != t} dS_j/dx`` (S: logits or softmax outputs),
    both flattened to (A, D), at ``x`` (A, C, H, W)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        scores = logits if space == "logits" else logits.softmax(1)
        wanted = scores.gather(1, goal[:, None]).sum()
        (toward,) = torch.autograd.grad(wanted, x, retain_graph=True)
        (total,) = torch.autograd.grad(scores.sum(), x)
    return logits.detach(), toward.flatten(1), (total - toward).flatten(1)


def _best_pairs(a: Tensor, b: Tensor, domain: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per row, the pair p < q in ``domain`` maximising ``A * -B`` with A > 0, B < 0; and whether one exists."""
    n, d = a.shape
    upper = torch.ones(d, d, dtype=torch.bool, device=a.device).triu(1)
    rows = max(1, _PAIR_BUDGET // (d * d))
    index, found = [], []
    for i in range(0, n, rows):
        ai, bi, di = a[i : i + rows], b[i : i + rows], domain[i : i + rows]
        pair_a = ai[:, :, None] + ai[:, None, :]
        pair_b = bi[:, :, None] + bi[:, None, :]
        valid = (pair_a > 0) & (pair_b < 0) & di[:, :, None] & di[:, None, :] & upper
        score = torch.where(valid, pair_a * -pair_b, -torch.inf).flatten(1)
        best, idx = score.max(1)
        index.append(idx)
        found.append(best > -torch.inf)
    idx = torch.cat(index)
    return idx // d, idx % d, torch.cat(found)


@register_attack("jsma", norms=("0",))
def jsma(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    theta: float = 1.0,
    gamma: float = 0.1,
    space: str = "logits",
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
) -> AttackResult:
    """JSMA (Papernot et al. 2016): change pairs of salient features by theta, at most gamma of them (L0)."""
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or not 0 < abs(theta) <= 1:
        raise InputError(f"theta must be a nonzero number in [-1, 1] (+1 saturates features up), got {theta!r}")
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or not 0 < gamma <= 1:
        raise InputError(f"gamma (the largest fraction of features to change) must lie in (0, 1], got {gamma!r}")
    check_choice(space, SPACES, "JSMA space")
    check_images(x, bounds=check_bounds(bounds))
    features = x[0].numel()
    max_features = int(gamma * features)
    if max_features < 2:
        raise InputError(f"gamma={gamma} allows {max_features} of {features} features; JSMA changes pairs, raise gamma")
    threat = ThreatModel("0", max_features, bounds)
    target = resolve_target(y, target, targeted)
    lo, hi = threat.bounds
    with attack_run(model, x, y, threat, target=target) as run:
        if target is None:
            with torch.no_grad():
                num_classes = int(run.model(run.x[:1]).shape[1])
            goal = random_targets(y, num_classes, seed=seed)
        else:
            goal = target
        x_adv = run.x.flatten(1).clone()
        domain = x_adv < hi if theta > 0 else x_adv > lo
        changed = torch.zeros(x_adv.shape[0], dtype=torch.long, device=x.device)
        active = torch.arange(x_adv.shape[0], device=x.device)
        sign = 1.0 if theta > 0 else -1.0
        while active.numel() > 0:
            with run.model.on_rows(active):
                logits, toward, others = _saliency_gradients(
                    run.model, x_adv[active].view_as(run.x[active]), goal[active], space
                )
            room = (changed[active] + 2 <= max_features) & (domain[active].sum(1) >= 2)
            keep = room & ~is_success(logits, y[active], target[active] if target is not None else None)
            active, toward, others = active[keep], toward[keep], others[keep]
            if active.numel() == 0:
                break
            p, q, found = _best_pairs(sign * toward, sign * others, domain[active])
            active, p, q = active[found], p[found], q[found]
            for feature in (p, q):
                x_adv[active, feature] = (x_adv[active, feature] + theta * (hi - lo)).clamp(lo, hi)
                domain[active, feature] = False
            changed[active] += 2
        return run.finish(x_adv.view_as(run.x))
