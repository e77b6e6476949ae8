"""The threat model as data: a norm, a radius and the input bounds.

Projection, random start and the steepest-ascent direction are functions of it, shared by every
attack (Madry et al. 2018 describe PGD in exactly these terms).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

from feint.errors import InputError

NORMS = ("inf", "2", "1", "0")
_ALIASES = {"inf": "inf", "linf": "inf", "l_inf": "inf", "2": "2", "l2": "2", "1": "1", "l1": "1", "0": "0", "l0": "0"}


def parse_norm(norm: str | float | int) -> str:
    """Accept ``"inf"``, ``"linf"``, ``float("inf")``, ``2``, ``"l2"``... and return ``"inf"``, ``"2"``, ``"1"`` or ``"0"``."""
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        key = "inf" if math.isinf(norm) else str(int(norm))
    else:
        key = str(norm).lower()
    if key not in _ALIASES:
        raise InputError(f"unknown norm {norm!r}; use one of 'inf', '2', '1', '0'")
    return _ALIASES[key]


def flat_norm(delta: Tensor, norm: str) -> Tensor:
    """Per-sample norm of a batch ``delta`` (N, ...) -> (N,)."""
    flat = delta.flatten(1)
    if norm == "inf":
        return flat.abs().amax(1)
    if norm == "2":
        return flat.norm(p=2, dim=1)
    if norm == "1":
        return flat.abs().sum(1)
    return (flat.abs() > 1e-8).sum(1).to(delta.dtype)


def _view(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


@dataclass(frozen=True)
class ThreatModel:
    """An ``eps``-ball in the ``norm`` around each input, intersected with the box ``bounds``.

    ``eps`` may be ``math.inf`` for unbounded (minimum-norm) attacks.
    """

    norm: str = "inf"
    eps: float = 0.0
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", parse_norm(self.norm))
        if not _is_number(self.eps) or math.isnan(self.eps) or self.eps < 0:
            raise InputError(f"eps must be a number >= 0, got {self.eps!r}")
        object.__setattr__(self, "eps", float(self.eps))
        object.__setattr__(self, "bounds", check_bounds(self.bounds))

    def diameter(self, dim: int) -> float:
        """The largest distance in this norm between two points of the box, for inputs of ``dim`` values.

        A ball of that radius around any point of the box holds the whole box, so a larger eps
        allows exactly the same inputs (Linf: ``hi - lo``; L2: ``(hi - lo) sqrt(dim)``; L1:
        ``(hi - lo) dim``; L0: ``dim``).
        """
        lo, hi = self.bounds
        return {"inf": hi - lo, "2": (hi - lo) * math.sqrt(dim), "1": (hi - lo) * dim, "0": float(dim)}[self.norm]

    def fitted(self, dim: int) -> ThreatModel:
        """This threat model with eps capped at :meth:`diameter`: the same feasible set, finite numbers."""
        cap = self.diameter(dim)
        return self if self.eps <= cap else self.with_eps(cap)

    def clip(self, x: Tensor) -> Tensor:
        return x.clamp(*self.bounds)

    def distance(self, x_adv: Tensor, x: Tensor) -> Tensor:
        return flat_norm(x_adv - x, self.norm)

    def project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """Nearest point (for Linf/L2; a rescaling for L1/L0-free cases) in the ball, then in the bounds."""
        delta = x_adv - x
        if not math.isinf(self.eps):
            if self.norm == "inf":
                return self.project_ball(x_adv, self.ball(x))
            if self.norm in ("2", "1"):
                size = flat_norm(delta, self.norm)
                scale = torch.clamp(self.eps / (size + 1e-12), max=1.0)
                delta = delta * _view(scale, delta)
            else:
                delta = _keep_largest(delta, int(self.eps))
        return self.clip(x + delta)

    def ball(self, x: Tensor) -> dict[str, Tensor]:
        """Per-row tensors that pin down the feasible set around ``x`` (N, ...), for :meth:`project_ball`.

        For a finite Linf ball they are the per-element limits ``low``/``high`` of the ball intersected
        with the bounds, computed once, so that projecting in an attack's inner loop is one clamp; for
        the other norms it is ``x0``, the centre.
        """
        if self.norm == "inf" and not math.isinf(self.eps):
            lo, hi = self.bounds
            return {"low": _edge(x, -self.eps).clamp_min(lo), "high": _edge(x, self.eps).clamp_max(hi)}
        return {"x0": x}

    def project_ball(self, x_adv: Tensor, ball: dict[str, Tensor]) -> Tensor:
        """:meth:`project` onto the set described by ``ball`` (from :meth:`ball`, possibly row-subset)."""
        if "low" in ball:
            return torch.clamp(x_adv, ball["low"], ball["high"])
        return self.project(x_adv, ball["x0"])

    def contain(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """:meth:`project`, made exact in the inputs' dtype: every row's :meth:`distance` to ``x`` is at most
        ``eps`` and every value lies in the bounds (``x`` itself must lie in them).

        Rounding in ``x + delta`` can leave an L2/L1 point a hair outside the ball; such rows are pulled
        in a little further, and a row that still does not fit (possible only for an eps near the
        float resolution) gets ``x`` itself. Linf is exact by construction (see :meth:`ball`).
        """
        out = self.project(x_adv, x)
        if self.norm not in ("2", "1") or math.isinf(self.eps):
            return out
        for slack in (1e-6, 1e-4, 1e-2):
            size = self.distance(out, x)
            over = size > self.eps
            if not bool(over.any()):
                return out
            shrink = _view(self.eps / size.clamp_min(1e-30) * (1 - slack), out)
            out = torch.where(_view(over, out), self.clip(x + (out - x) * shrink), out)
        return torch.where(_view(self.distance(out, x) > self.eps, out), x, out)

    def steepest(self, grad: Tensor) -> Tensor:
        """Unit-norm steepest-ascent direction for a linear approximation: sign for Linf, normalised for L2."""
        if self.norm == "inf":
            return grad.sign()
        if self.norm == "2":
            return grad / _view(flat_norm(grad, "2") + 1e-12, grad)
        if self.norm == "1":
            flat = grad.flatten(1)
            idx = flat.abs().argmax(1)
            out = torch.zeros_like(flat)
            out.scatter_(1, idx[:, None], flat.gather(1, idx[:, None]).sign())
            return out.view_as(grad)
        raise InputError("the L0 threat model has no steepest-ascent step; use JSMA for L0 attacks")

    def random_start(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """A uniform random point in the ball (Linf: uniform cube; L2: uniform in the sphere), clipped to bounds."""
        eps = self.eps if not math.isinf(self.eps) else 1.0
        if self.norm == "inf":
            noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
            delta = noise * eps
        elif self.norm == "2":
            g = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            g = g / _view(flat_norm(g, "2") + 1e-12, g)
            d = x[0].numel()
            r = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype) ** (1.0 / d)
            delta = g * _view(r * eps, g)
        else:
            raise InputError(f"random start is defined for the 'inf' and '2' norms, not {self.norm!r}")
        return self.clip(x + delta)

    def with_eps(self, eps: float) -> ThreatModel:
        return ThreatModel(self.norm, eps, self.bounds)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_bounds(bounds: object) -> tuple[float, float]:
    """``(low, high)``: two finite numbers with low < high."""
    pair = tuple(bounds) if isinstance(bounds, (tuple, list)) else ()
    if len(pair) != 2 or not all(_is_number(v) and math.isfinite(v) for v in pair) or not pair[0] < pair[1]:
        raise InputError(
            f"bounds must be (low, high), two finite numbers with low < high, got {bounds!r}; e.g. bounds=(0.0, 1.0)"
        )
    return float(pair[0]), float(pair[1])


def _edge(x: Tensor, eps: float) -> Tensor:
    """``x + eps`` in x's dtype, stepped back one unit towards ``x`` where rounding carried it past ``eps``,
    so that ``|edge - x| <= eps`` holds exactly when computed in that dtype."""
    edge = x + eps
    past = (edge - x).abs() > abs(eps)
    return torch.where(past, torch.nextafter(edge, x), edge)


def _keep_largest(delta: Tensor, k: int) -> Tensor:
    flat = delta.flatten(1)
    if k >= flat.shape[1]:
        return delta
    if k <= 0:
        return torch.zeros_like(delta)
    idx = flat.abs().topk(k, dim=1).indices
    mask = torch.zeros_like(flat).scatter_(1, idx, 1.0)
    return (flat * mask).view_as(delta)


def make_generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A seeded generator on ``device`` (None when no seed: the global RNG is used)."""
    if seed is None:
        return None
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen
