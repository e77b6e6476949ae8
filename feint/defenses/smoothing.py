"""Randomized smoothing: a classifier made certifiably robust in L2 by Gaussian noise.

Cohen, Rosenfeld & Kolter 2019, "Certified Adversarial Robustness via Randomized Smoothing": from
any base classifier f, the smoothed classifier ``g(x) = argmax_c P(f(x + delta) = c)``,
``delta ~ N(0, sigma^2 I)``, returns the class f most often gives under noise. If the top class has
probability ``p_A >= p_A_lower > 1/2``, g is constant within the L2 radius
``R = sigma * Phi^-1(p_A_lower)`` of x (their Theorem 1, with the runner-up bounded by
``1 - p_A_lower``). The probabilities are estimated by Monte Carlo:

- PREDICT (their Algorithm, sec. 3.2): count f's classes over ``n`` draws; return the top class
  unless a two-sided binomial test of the top two counts cannot reject a tie at level ``alpha``
  (then abstain); it returns a wrong class with probability at most ``alpha``.
- CERTIFY: choose the top class from ``n0`` draws, count it over ``n`` fresh draws, bound ``p_A``
  from below by the one-sided Clopper-Pearson bound at level ``alpha``; abstain where that bound is
  not above 1/2, else return the class and the radius R. With probability at least ``1 - alpha``
  (over the draws) the certificate is true **for g**, the smoothed classifier; it says nothing of
  the base model f.

The draws are batched: the noisy copies of many inputs go through the base model together, in
passes of ``batch_size`` rows, each run as a query-only oracle runs a module
(:class:`feint.oracles.forward.ModuleForward`: no gradients, cache-sized chunks and, on the CPU,
the channels_last layout whose oneDNN kernels run a small CNN 2-3 times faster per row than the
plain layout; the logits equal the plain pass's up to float rounding). Counts of at least
:data:`~feint.oracles.frozen.FREEZE_ROWS` rows use a frozen copy of the base model where one passes
its checks (:mod:`feint.oracles.frozen`; a further 1.5 times faster on that CNN). As a ``nn.Module``, :class:`Smoothed` answers one noisy draw per
forward pass (the base model's logits at ``x + delta``): a randomized model, which the audit attacks
with EOT over the noise (Athalye, Carlini & Wagner 2018). Shapes: x (N, C, H, W); counts (N, K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from feint.errors import InputError
from feint.oracles.forward import ModuleForward
from feint.oracles.frozen import FREEZE_ROWS
from feint.validation import check_positive_int

ABSTAIN = -1
N0 = 100  # the selection draws of Cohen et al. 2019


def check_sigma(sigma: float) -> float:
    """``sigma`` as a float; one clear error unless it is a finite number > 0."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
        raise InputError(
            f"sigma (the noise level of randomized smoothing) must be a finite number > 0, got {sigma!r}; "
            "Cohen et al. 2019 use 0.12 to 1.0 on inputs in [0, 1]"
        )
    return float(sigma)


def check_sampling(*, n0: int, n: int, alpha: float) -> None:
    """One clear error for a bad Monte Carlo setting: ``n0`` or ``n`` not a positive integer, ``n0 > n``,
    ``alpha`` outside (0, 1)."""
    check_positive_int(n0, "n0 (the draws that choose the top class)")
    check_positive_int(n, "n (the draws that estimate its probability)")
    if n0 > n:
        raise InputError(
            f"n0 ({n0}) must not exceed n ({n}): n0 draws only choose the class that n draws then certify "
            "(Cohen et al. 2019 use n0 = 100, n = 100,000)"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise InputError(
            f"alpha (the probability that a certificate is wrong) must lie strictly between 0 and 1, got {alpha!r}; "
            "e.g. 0.001"
        )


@dataclass(frozen=True)
class Certificates:
    """CERTIFY's answers for N inputs: ``prediction`` (N,) the class or :data:`ABSTAIN`; ``radius`` (N,)
    the certified L2 radius (NaN where it abstains); ``p_lower`` (N,) the lower confidence bound of the
    chosen class's probability; ``vote`` (N,) the class most often given over the ``n`` draws (the Monte
    Carlo estimate of g(x), never abstaining)."""

    prediction: Tensor
    radius: Tensor
    p_lower: Tensor
    vote: Tensor


def lower_bound(successes: Tensor, trials: int, alpha: float) -> Tensor:
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a binomial proportion (scipy), per entry."""
    from scipy.stats import beta

    k = successes.detach().cpu().double().numpy()
    bound = beta.ppf(alpha, k, trials - k + 1)  # NaN at k = 0, where the bound is 0
    return torch.nan_to_num(torch.from_numpy(bound), nan=0.0).to(successes.device)


def radius_of(p_lower: Tensor, sigma: float) -> Tensor:
    """``sigma * Phi^-1(p_lower)`` (scipy), NaN where ``p_lower <= 1/2`` (no certificate)."""
    from scipy.stats import norm

    p = p_lower.detach().cpu().double().numpy()
    radius = torch.from_numpy(sigma * norm.ppf(p)).to(p_lower.device)
    return torch.where(p_lower > 0.5, radius, torch.full_like(radius, math.nan))


def max_radius(sigma: float, n: int, alpha: float) -> float:
    """The largest radius CERTIFY can give with ``n`` draws at level ``alpha``: every draw agreeing."""
    return float(radius_of(lower_bound(torch.tensor([float(n)]), n, alpha), sigma)[0])


def tie_test(counts: Tensor, alpha: float) -> Tensor:
    """(N,) bool: PREDICT's abstention, a two-sided binomial test (scipy) that cannot tell the top two
    counts apart at level ``alpha``."""
    from scipy.stats import binomtest

    padded = torch.cat([counts, torch.zeros_like(counts[:, :1])], 1)  # a one-class model has no runner-up
    top = padded.topk(2, dim=1).values.cpu().tolist()
    tied = [binomtest(int(a), int(a + b), 0.5).pvalue > alpha if a + b > 0 else True for a, b in top]
    return torch.tensor(tied, dtype=torch.bool, device=counts.device)


class Smoothed(nn.Module):
    """The smoothed classifier g of ``base`` at noise level ``sigma`` (Cohen et al. 2019).

    ``forward(x)`` returns the base model's logits on one noisy draw ``x + sigma * N(0, I)`` (torch's
    RNG, so a seeded run repeats), so attacks see a randomized model; :meth:`predict`,
    :meth:`certify` and :meth:`counts` are the Monte Carlo procedures, batched in passes of
    ``batch_size`` rows. ``n0``, ``n`` and ``alpha`` are the procedures' defaults (what the audit
    uses for its certified bound; ``n0`` defaults to 100, or ``n`` when fewer). The noise is not clipped to the input bounds, as in the paper.
    """

    def __init__(
        self, base: nn.Module, sigma: float, *, n0: int | None = None, n: int = 10_000, alpha: float = 0.001,
        batch_size: int = 1000,
    ) -> None:  # fmt: skip
        super().__init__()
        if not isinstance(base, nn.Module):
            raise InputError(
                f"randomized smoothing needs a torch model (nn.Module) to add noise to, got {type(base).__name__}"
            )
        self.sigma = check_sigma(sigma)
        n0 = min(N0, n) if n0 is None and isinstance(n, int) else n0
        check_sampling(n0=n0, n=n, alpha=alpha)  # type: ignore[arg-type]
        check_positive_int(batch_size, "batch_size (rows per pass through the base model)")
        self.base = base
        self.n0, self.n, self.alpha, self.batch_size = int(n0), int(n), float(alpha), int(batch_size)
        # sigma in the state: a saved state (the audit's fingerprint hashes it) tells two noise levels apart
        self.register_buffer("noise_sigma", torch.tensor(self.sigma))
        self.train(base.training)

    def forward(self, x: Tensor) -> Tensor:
        return self.base(x + self.sigma * torch.randn_like(x))

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}, n0={self.n0}, n={self.n}, alpha={self.alpha:g}"

    @torch.no_grad()
    def counts(
        self, x: Tensor, num: int, *, batch_size: int | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """(N, K) int64: how often the base model gives each class over ``num`` noisy draws of each input.

        Up to ``batch_size`` inputs go together, each pass holding ``batch_size // inputs`` draws of each
        (at least one): a few inputs with many draws or many inputs with few, passes of the same size."""
        check_positive_int(num, "the number of noisy draws")
        rows = self.batch_size if batch_size is None else batch_size
        check_positive_int(rows, "batch_size (rows per pass through the base model)")
        parts = []
        # eval mode and no gradients come with the oracle's forward (as for every module oracle)
        forward = ModuleForward(self.base, freeze=num * x.shape[0] >= FREEZE_ROWS)
        for chunk in x.split(rows):
            m = chunk.shape[0]
            per_pass = max(1, rows // m)
            total: Tensor | None = None
            left = num
            while left > 0:
                k = min(per_pass, left)
                batch = chunk.repeat(k, *([1] * (chunk.dim() - 1)))
                noise = torch.randn(batch.shape, generator=generator, device=batch.device, dtype=batch.dtype)
                logits = forward(batch + self.sigma * noise)
                found = torch.zeros(m, logits.shape[1], dtype=torch.long, device=x.device)
                found.scatter_add_(
                    1, logits.argmax(1).view(k, m).T, torch.ones(m, k, dtype=torch.long, device=x.device)
                )
                total = found if total is None else total + found
                left -= k
            assert total is not None
            parts.append(total)
        return torch.cat(parts)

    def predict(
        self, x: Tensor, *, n: int | None = None, alpha: float | None = None, batch_size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:  # fmt: skip
        """PREDICT: (N,) the smoothed class of each input, or :data:`ABSTAIN` (-1) where a binomial test of
        the top two counts over ``n`` draws cannot reject a tie at level ``alpha``."""
        n, alpha = self.n if n is None else n, self.alpha if alpha is None else alpha
        check_sampling(n0=1, n=n, alpha=alpha)
        counts = self.counts(x, n, batch_size=batch_size, generator=generator)
        return torch.where(tie_test(counts, alpha), torch.full_like(counts[:, 0], ABSTAIN), counts.argmax(1))

    def certify(
        self, x: Tensor, *, n0: int | None = None, n: int | None = None, alpha: float | None = None,
        batch_size: int | None = None, generator: torch.Generator | None = None,
    ) -> Certificates:  # fmt: skip
        """CERTIFY: the class chosen on ``n0`` draws, certified on ``n`` further draws at level ``alpha``
        (each certificate is wrong with probability at most ``alpha``); see :class:`Certificates`."""
        n0 = self.n0 if n0 is None else n0
        n, alpha = self.n if n is None else n, self.alpha if alpha is None else alpha
        check_sampling(n0=n0, n=n, alpha=alpha)
        chosen = self.counts(x, n0, batch_size=batch_size, generator=generator).argmax(1)
        counts = self.counts(x, n, batch_size=batch_size, generator=generator)
        p_lower = lower_bound(counts.gather(1, chosen[:, None])[:, 0], n, alpha)
        radius = radius_of(p_lower, self.sigma)
        prediction = torch.where(torch.isnan(radius), torch.full_like(chosen, ABSTAIN), chosen)
        return Certificates(prediction, radius, p_lower, counts.argmax(1))


def smooth(
    model: nn.Module, sigma: float, *, n0: int | None = None, n: int = 10_000, alpha: float = 0.001,
    batch_size: int = 1000,
) -> Smoothed:  # fmt: skip
    """The smoothed classifier of ``model`` at Gaussian noise level ``sigma`` (Cohen, Rosenfeld & Kolter 2019).

    A :class:`Smoothed` module: one noisy draw per forward pass (what attacks and the audit see), and
    ``predict`` / ``certify`` / ``counts`` with ``n0`` selection draws (default 100, at most ``n``), ``n`` estimation draws and
    failure probability ``alpha`` by default, in passes of ``batch_size`` rows. Certificates are L2
    radii and hold, with probability 1 - alpha, for the smoothed classifier, not for ``model``::

        smoothed = feint.smooth(model, 0.25)
        answers = smoothed.certify(x)  # answers.prediction (-1: abstain), answers.radius
    """
    return Smoothed(model, sigma, n0=n0, n=n, alpha=alpha, batch_size=batch_size)
