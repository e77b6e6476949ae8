"""Square Attack: score-based black-box random search, Linf and L2.

Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box adversarial
attack via random search", ECCV 2020. Only the model's scores are used (no gradients: the whole
attack runs under ``torch.no_grad()``). Each iteration changes one random square window of side
``s = round(sqrt(p * H * W))`` of the current perturbation and keeps the change only if it lowers
the margin loss ``z_y - max_{j != y} z_j`` (``max_{j != t} z_j - z_t`` when targeted). ``p`` starts
at ``p_init`` and is halved on the paper's schedule (at 10, 50, 200, ... of 10,000 iterations,
rescaled to the budget). Samples stop as soon as they are fooled (per-sample early stopping);
the result's ``found_at`` says when, as a share of the per-sample budget. With ``stall_factor``
a sample's search also stops where it has stalled: at a twentieth of the budget and every doubling
after it, where its margin loss has not fallen to ``stall_factor ** k`` of its value at the start
(:class:`feint.attacks.stall.StallRule`); the paper's budget then bounds the inputs still gaining.

The attack takes a :class:`~feint.oracles.ScoreOracle` (a torch module is wrapped at score access):
probabilities are used as log-probabilities, whose margins equal the logits'. ``n_queries`` is
each sample's budget including its share of the final check; an oracle's own budget
(``max_queries``) is honoured exactly: when it runs out the attack returns its best points so far.

- Linf: vertical-stripe initialisation of +-eps, windows filled with +-eps per channel.
- L2: the paper's initialisation by a grid of pseudo-Gaussian squares, and the update that moves
  the perturbation mass of a second window into the first with a fresh pseudo-Gaussian pattern,
  keeping ``||delta||_2 = eps`` (simplified to one rescaling per channel).

Shapes: x (N, C, H, W) in ``bounds``, y (N,); ``n_queries`` is the budget per sample.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor, nn

from feint.attacks.core import margin_loss, resolve_target
from feint.attacks.oracle_run import check_query_budget, oracle_run
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.attacks.stall import StallRule
from feint.errors import InputError
from feint.oracles import Oracle, QueryBudgetExhausted
from feint.oracles.logits import oracle_logits
from feint.threat import ThreatModel, flat_norm, make_generator

_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_schedule(p_init: float, it: int, n_iters: int) -> float:
    """Fraction of pixels changed at iteration ``it``: halved at the paper's fixed points of 10,000."""
    t = int(it / max(n_iters, 1) * 10000)
    return p_init / 2 ** sum(t > b for b in _SCHEDULE)


def _loss(oracle: Oracle, x: Tensor, labels: Tensor, targeted: bool) -> Tensor:
    """Per-sample loss to minimise; the sample is fooled once it is negative."""
    gap = margin_loss(oracle_logits(oracle, x), labels)
    return gap if targeted else -gap


def _windows(n: int, s: int, h: int, w: int, gen: torch.Generator | None, device: torch.device) -> Tensor:
    """(n, 1, H, W) bool masks of one random s x s window per sample."""
    r = torch.randint(0, h - s + 1, (n, 1), generator=gen, device=device)
    c = torch.randint(0, w - s + 1, (n, 1), generator=gen, device=device)
    rows = torch.arange(h, device=device)[None]
    cols = torch.arange(w, device=device)[None]
    rmask = (rows >= r) & (rows < r + s)
    cmask = (cols >= c) & (cols < c + s)
    return (rmask[:, :, None] & cmask[:, None, :])[:, None]


def _random_sign(shape: tuple[int, ...], gen: torch.Generator | None, like: Tensor) -> Tensor:
    return torch.randint(0, 2, shape, generator=gen, device=like.device).to(like.dtype) * 2 - 1


def _linf_init(x: Tensor, eps: float, gen: torch.Generator | None) -> Tensor:
    n, c, _, w = x.shape
    return x + eps * _random_sign((n, c, 1, w), gen, x)


def _linf_step(x: Tensor, x_best: Tensor, eps: float, s: int, gen: torch.Generator | None) -> Tensor:
    n, c, h, w = x.shape
    mask = _windows(n, s, h, w, gen, x.device)
    fresh = eps * _random_sign((n, c, 1, 1), gen, x)
    return torch.where(mask, x + fresh, x_best)


def _bump(a: int, b: int, like: Tensor) -> Tensor:
    """Pseudo-Gaussian a x b pattern: weight 1/(k+1)^2 on the k-th ring around the centre (the paper's M)."""
    i = torch.arange(a, device=like.device, dtype=like.dtype) - (a - 1) / 2
    j = torch.arange(b, device=like.device, dtype=like.dtype) - (b - 1) / 2
    k = torch.maximum(i.abs()[:, None], j.abs()[None]).floor()
    return 1.0 / (k + 1) ** 2


def _pattern(s: int, flip: Tensor, like: Tensor) -> Tensor:
    """s x s pattern with two halves of opposite sign, unit L2 norm (eta in the paper), transposed
    where ``flip`` (a bool tensor on the device: choosing on the host would wait for it every query)."""
    left = (s + 1) // 2
    eta = torch.cat([_bump(s, left, like), -_bump(s, s - left, like)], dim=1)
    eta = torch.where(flip, eta.t(), eta)
    return eta / eta.norm()


def _place(pattern: Tensor, mask: Tensor) -> Tensor:
    """Put an (s, s) pattern where each (n, 1, H, W) window mask is true."""
    s = pattern.shape[0]
    n, _, h, w = mask.shape
    r = mask.any(3).float().argmax(2).view(n, 1)
    c = mask.any(2).float().argmax(2).view(n, 1)
    rows = (torch.arange(h, device=mask.device)[None] - r).clamp(0, s - 1)
    cols = (torch.arange(w, device=mask.device)[None] - c).clamp(0, s - 1)
    return pattern[rows[:, :, None], cols[:, None, :]][:, None] * mask


def _l2_init(x: Tensor, eps: float, gen: torch.Generator | None) -> Tensor:
    n, c, h, w = x.shape
    t = max(min(h, w) // 5, 1)
    delta = torch.zeros_like(x)
    for i in range(0, h, t):
        for j in range(0, w, t):
            a, b = min(t, h - i), min(t, w - j)
            delta[:, :, i : i + a, j : j + b] = _bump(a, b, x) * _random_sign((n, c, 1, 1), gen, x)
    delta = delta * (eps / flat_norm(delta, "2").clamp_min(1e-12)).view(n, 1, 1, 1)
    return x + delta


def _l2_step(x: Tensor, x_best: Tensor, eps: float, s: int, gen: torch.Generator | None) -> Tensor:
    n, c, h, w = x.shape
    delta = x_best - x
    first = _windows(n, s, h, w, gen, x.device)
    union = first | _windows(n, s, h, w, gen, x.device)
    flip = torch.randint(0, 2, (1,), generator=gen, device=x.device).bool()
    eta = _place(_pattern(s, flip, x), first) * _random_sign((n, c, 1, 1), gen, x)
    # Mass available to the new window: what sits in both windows now plus the unused budget.
    slack = (eps**2 - flat_norm(delta, "2") ** 2).clamp_min(0).view(n, 1, 1, 1) / c
    mass = ((delta * union) ** 2).sum((2, 3), keepdim=True) + slack
    new = delta * first + eta * mass.sqrt()
    new = new * (mass.sqrt() / new.pow(2).sum((2, 3), keepdim=True).sqrt().clamp_min(1e-12))
    return x + torch.where(union, new, delta)


@register_attack("square", defaults={"eps": 0.1}, norms=("inf", "2"), access="scores")
def square(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    norm: str = "inf",
    n_queries: int = 1000,
    p_init: float | None = None,
    stall_factor: float | None = None,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = 0,
) -> AttackResult:
    """Square Attack (Andriushchenko et al. 2020): score-based random search, no gradients."""
    threat = ThreatModel(norm, eps, bounds)
    if threat.norm not in ("inf", "2"):
        raise InputError(f"the Square attack supports the 'inf' and '2' norms, not {norm!r}")
    check_query_budget(n_queries, "n_queries")
    p_init = (0.05 if threat.norm == "inf" else 0.8) if p_init is None else float(p_init)
    if not 0.0 < p_init <= 1.0:
        raise InputError(f"p_init must lie in (0, 1], got {p_init!r}")
    stall = None if stall_factor is None else StallRule(n_queries, float(stall_factor))
    target = resolve_target(y, target, targeted)
    with oracle_run(model, x, y, threat, target=target) as run, torch.no_grad():
        threat = threat.fitted(run.x[0].numel())
        if threat.eps == 0:
            return run.finish(run.x)
        gen = make_generator(seed, run.x.device)
        init, step = (_linf_init, _linf_step) if threat.norm == "inf" else (_l2_init, _l2_step)
        _, _, h, w = run.x.shape
        x_best = threat.project(init(run.x, threat.eps, gen), run.x)
        try:
            loss_best = _loss(run.oracle, x_best, run.labels, run.targeted)
        except QueryBudgetExhausted:
            return run.finish(run.x)
        # found_at: the share of each sample's budget spent when it was first fooled (the audit's
        # convergence gauge: inputs fooled late mean a larger budget would fool more).
        found_at = torch.where(loss_best < 0, 1.0 / n_queries, math.inf).to(run.x.device)
        n_iters = n_queries - 2
        searching, loss_start = loss_best >= 0, loss_best.clone()
        for it in range(n_iters):
            stalled = stall.stalled(it, loss_best, loss_start) if stall is not None else None
            if stalled is not None:
                searching &= ~stalled
            active = (searching & (loss_best >= 0)).nonzero().squeeze(1)
            active = active[: int(min(active.numel(), run.oracle.remaining))]
            if active.numel() == 0:
                break
            p = p_schedule(p_init, it, n_iters)
            s = min(max(round(math.sqrt(p * h * w)), 1), h, w)
            x0 = run.x[active]
            cand = threat.project(step(x0, x_best[active], threat.eps, s, gen), x0)
            loss = _loss(run.oracle, cand, run.labels[active], run.targeted)
            better = loss < loss_best[active]
            idx = active[better]
            x_best[idx] = cand[better]
            loss_best[idx] = loss[better]
            found_at[idx[loss[better] < 0]] = (it + 2) / n_queries
        result = run.finish(x_best)
        # a point the final check alone found adversarial was found at the very end
        return replace(result, found_at=torch.where(result.success & found_at.isinf(), 1.0, found_at))
