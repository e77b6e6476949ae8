"""Wald's sequential probability ratio test on a stream of label changes (Wang et al. 2019, Sec. IV).

Each mutant drawn is a Bernoulli trial: did it change the input's label? With ``p`` the input's
label change rate, the test weighs H0: ``p <= p0 = threshold - sigma`` (normal) against
H1: ``p >= p1 = threshold + sigma`` (adversarial), the indifference region ``(p0, p1)`` between.
After ``k`` draws with ``c`` changes the log likelihood ratio is
``c * log(p1 / p0) + (k - c) * log((1 - p1) / (1 - p0))``; the test decides "adversarial" once it
reaches ``log((1 - beta) / alpha)`` and "normal" once it falls to ``log(beta / (1 - alpha))``, so
an input with ``p <= p0`` is called adversarial with probability about ``alpha`` at most and one
with ``p >= p1`` is called normal with probability about ``beta`` at most (Wald 1945). Clear cases
need few draws; cases near the threshold need many. A stream that ends before a decision is left
undecided.
Shapes: changes (N, T) bool; counts and results (N,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from feint.errors import InputError


@dataclass(frozen=True)
class SPRT:
    """The test's settings: the two hypotheses ``p0 < p1`` and the error rates ``alpha``, ``beta``."""

    p0: float
    p1: float
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise InputError(f"the SPRT needs 0 < p0 < p1 < 1, got p0={self.p0:.4g}, p1={self.p1:.4g}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0 < value < 0.5:
                raise InputError(f"{name} must lie in (0, 0.5), got {value!r}")

    @classmethod
    def around(cls, threshold: float, sigma: float, *, alpha: float = 0.05, beta: float = 0.05) -> SPRT:
        """The test for the indifference region ``threshold +- sigma``."""
        return cls(threshold - sigma, threshold + sigma, alpha, beta)

    @property
    def bounds(self) -> tuple[float, float]:
        """(lower, upper) log likelihood ratio at which the test decides normal / adversarial."""
        return math.log(self.beta / (1 - self.alpha)), math.log((1 - self.beta) / self.alpha)

    def step(self, changes: Tensor, changed: Tensor, drawn: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Continue the test over ``changes`` (N, T) after ``changed`` of ``drawn`` earlier draws.

        Returns ``(verdict, changed, drawn)``: verdict 1 adversarial, 0 normal, -1 undecided; for a
        decided input, ``changed``/``drawn`` stop at the draw that decided it.
        """
        n, t = changes.shape
        up = math.log(self.p1 / self.p0)
        down = math.log((1 - self.p1) / (1 - self.p0))
        cum = changed[:, None] + changes.long().cumsum(1)
        k = drawn[:, None] + torch.arange(1, t + 1, device=changes.device)[None]
        llr = cum * up + (k - cum) * down
        lower, upper = self.bounds
        crossed = (llr >= upper) | (llr <= lower)
        any_cross = crossed.any(1)
        first = torch.where(any_cross, crossed.float().argmax(1), torch.full((n,), t - 1, device=changes.device))
        at = first[:, None]
        verdict = torch.where(any_cross, (llr.gather(1, at).squeeze(1) >= upper).long(), torch.full_like(first, -1))
        return verdict, cum.gather(1, at).squeeze(1), k.gather(1, at).squeeze(1)

    def decide(self, changes: Tensor) -> tuple[Tensor, Tensor]:
        """Run the test on whole streams: (verdict (N,) in {1, 0, -1}, draws used (N,))."""
        zero = torch.zeros(changes.shape[0], dtype=torch.long, device=changes.device)
        verdict, _, drawn = self.step(changes, zero, zero)
        return verdict, drawn


@dataclass(frozen=True)
class SPRTResult:
    """One decision per input: ``adversarial`` (bool), ``mutants_used`` (int), ``decided`` (False when
    the pool ran out first; then ``adversarial`` compares the observed rate with the threshold) and
    ``lcr``: the label change rate over the mutants drawn."""

    adversarial: Tensor
    mutants_used: Tensor
    decided: Tensor
    lcr: Tensor
