"""The budgeted, batched search state of HopSkipJump (see :mod:`feint.attacks.hopskipjump`).

Every query goes through :meth:`Search.decide`, which sends the rows of many samples in one
oracle call and charges each sample's own budget (``limit`` rows each, the final check held back
separately by the oracle run) and the oracle's: a sample whose rows do not fit stops there with
its best point. Only points an oracle answer showed adversarial become a sample's best.
Shapes: x (N, C, H, W); per-sample state (N,); a query's ``owner`` (R,) maps rows to samples.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from feint.attacks.oracle_run import OracleRun
from feint.threat import flat_norm


def _view(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


class Search:
    """Per-sample budgets, best points and the decision function phi of one attack call."""

    def __init__(self, run: OracleRun, *, norm: str, limit: int, eps: float, gamma: float = 1.0) -> None:
        self.run, self.norm, self.eps = run, norm, eps
        n = run.x.shape[0]
        self.limit = limit
        self.used = torch.zeros(n, dtype=torch.long, device=run.x.device)
        self.stopped = torch.zeros(n, dtype=torch.bool, device=run.x.device)
        self.best = run.x.clone()
        self.best_dist = torch.full((n,), math.inf, device=run.x.device)
        lo, hi = run.threat.bounds
        self.width = hi - lo
        self.dim = int(run.x[0].numel())
        self.theta = gamma / (self.dim * math.sqrt(self.dim)) if norm == "2" else gamma / self.dim**2

    @property
    def active(self) -> Tensor:
        """Indices of the samples still searching: within budget and not yet inside ``eps``."""
        inside = self.best_dist <= self.eps if math.isfinite(self.eps) else torch.zeros_like(self.stopped)
        return (~self.stopped & ~inside).nonzero().squeeze(1)

    def left(self, idx: Tensor) -> Tensor:
        return self.limit - self.used[idx]

    def dist(self, points: Tensor, idx: Tensor) -> Tensor:
        return flat_norm(points - self.run.x[idx], self.norm)

    def decide(self, points: Tensor, owner: Tensor) -> tuple[Tensor, Tensor]:
        """(adversarial?, answered?) per row of ``points``; rows of samples out of budget go unanswered
        and those samples stop. One oracle request carries every affordable row."""
        counts = torch.bincount(owner, minlength=self.used.shape[0])
        fits = self.used + counts <= self.limit
        ok = fits[owner] & ~self.stopped[owner]
        room = self.run.oracle.remaining
        if math.isfinite(room) and int(ok.sum()) > room:
            # Whole samples in order until the oracle's own budget is spent.
            per_sample = torch.where(fits & ~self.stopped, counts, torch.zeros_like(counts))
            keep_sample = (per_sample.cumsum(0) <= room) & (per_sample > 0)
            ok &= keep_sample[owner]
        self.stopped |= torch.zeros_like(self.stopped).index_fill_(0, owner[~ok].unique(), True)
        answer = torch.zeros(owner.shape[0], dtype=torch.bool, device=owner.device)
        if bool(ok.any()):
            rows = ok.nonzero().squeeze(1)
            labels = self.run.oracle.labels(points[rows])
            want = self.run.labels[owner[rows]]
            answer[rows] = labels == want if self.run.targeted else labels != want
            self.used += torch.bincount(owner[rows], minlength=self.used.shape[0])
        return answer, ok

    def offer(self, points: Tensor, idx: Tensor) -> None:
        """Points known adversarial for samples ``idx``: keep those closer than each sample's best."""
        d = self.dist(points, idx)
        better = d < self.best_dist[idx]
        self.best[idx[better]] = points[better]
        self.best_dist[idx[better]] = d[better]

    def toward(self, current: Tensor, idx: Tensor, alpha: Tensor) -> Tensor:
        """Points between x (alpha=0) and ``current``: a blend for L2, a clip to the Linf ball of radius alpha."""
        x = self.run.x[idx]
        if self.norm == "2":
            return (1 - _view(alpha, x)) * x + _view(alpha, x) * current
        a = _view(alpha, x)
        return torch.minimum(torch.maximum(current, x - a), x + a)

    def binary_search(self, current: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Move adversarial ``current`` of samples ``idx`` to the boundary toward x; returns (points, idx
        still answered). Stops at a gap of theta (L2) or theta * its Linf distance (Linf)."""
        x = self.run.x[idx]
        if self.norm == "2":
            hi = torch.ones(idx.shape[0], device=x.device)
            gap = torch.full_like(hi, self.theta)
        else:
            hi = flat_norm(current - x, "inf")
            gap = torch.clamp(hi * self.theta, max=self.theta)
        lo = torch.zeros_like(hi)
        live = torch.ones_like(hi, dtype=torch.bool)
        while True:
            todo = (live & (hi - lo > gap)).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            mid = (lo[todo] + hi[todo]) / 2
            adv, answered = self.decide(self.toward(current[todo], idx[todo], mid), idx[todo])
            live[todo[~answered]] = False
            hi[todo] = torch.where(adv & answered, mid, hi[todo])
            lo[todo] = torch.where(~adv & answered, mid, lo[todo])
        points = self.toward(current, idx, hi)
        self.offer(points, idx)
        return points, live

    def gradient(self, at: Tensor, idx: Tensor, delta: Tensor, n_eval: Tensor, gen: torch.Generator | None) -> Tensor:
        """Monte-Carlo estimate of the boundary's normal at ``at`` from ``n_eval[i]`` random probes of
        radius ``delta[i]`` (sign of phi, a baseline subtracted); unit L2 norm, zero where unanswered."""
        owner = torch.repeat_interleave(torch.arange(idx.shape[0], device=at.device), n_eval)
        shape = (owner.shape[0], *at.shape[1:])
        if self.norm == "2":
            u = torch.randn(shape, generator=gen, device=at.device, dtype=at.dtype)
        else:
            u = torch.rand(shape, generator=gen, device=at.device, dtype=at.dtype) * 2 - 1
        u = u / _view(flat_norm(u, "2").clamp_min(1e-12), u)
        base, d = at[owner], _view(delta[owner], u)
        probes = self.run.threat.clip(base + d * u)
        u = (probes - base) / d
        adv, answered = self.decide(probes, idx[owner])
        phi = adv.to(at.dtype) * 2 - 1
        k = torch.bincount(owner, minlength=idx.shape[0]).clamp_min(1).to(at.dtype)
        mean = torch.zeros(idx.shape[0], device=at.device, dtype=at.dtype).index_add_(0, owner, phi) / k
        centred = torch.where((mean[owner].abs() == 1), phi, phi - mean[owner])
        grad = torch.zeros_like(at).index_add_(0, owner, _view(centred, u) * u)
        ok = torch.zeros(idx.shape[0], dtype=torch.bool, device=at.device).index_fill_(
            0, owner[~answered].unique(), True
        )
        grad[ok] = 0
        return grad / _view(flat_norm(grad, "2").clamp_min(1e-12), grad)
