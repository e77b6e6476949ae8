"""Settings of the substitute attack (Papernot et al. 2017, "Practical Black-Box Attacks against
Machine Learning"; Papernot, McDaniel & Goodfellow 2016 for the periodic step and reservoir
sampling), the queries they plan, and the record of one substitute round."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from feint.errors import InputError
from feint.models.registry import ARCHITECTURES
from feint.validation import check_nonnegative, check_positive_int


@dataclass(frozen=True)
class SubstituteConfig:
    """How to train a substitute. ``lam`` is lambda, ``tau`` the period of the step's sign (None:
    constant), ``sigma`` the augmentation from which reservoir sampling of ``kappa`` points starts
    (None: never), ``epochs``/``lr``/``batch_size`` the training per round (Adam), ``max_queries``
    the exact oracle budget for training (None: unlimited)."""

    arch: str = "lenet"
    rounds: int = 6
    lam: float = 0.1
    tau: int | None = 3
    sigma: int | None = None
    kappa: int = 400
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    max_queries: int | None = None
    seed: int = 0
    arch_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise InputError(f"unknown substitute architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        for name in ("rounds", "kappa", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if not isinstance(self.lam, (int, float)) or isinstance(self.lam, bool) or not 0 < self.lam < math.inf:
            raise InputError(f"lambda (the augmentation step, --lambda) must be a finite number > 0, got {self.lam!r}")
        if self.tau is not None:
            check_positive_int(self.tau, "tau")
        if self.sigma is not None and (
            not isinstance(self.sigma, int) or isinstance(self.sigma, bool) or self.sigma < 0
        ):
            raise InputError(f"sigma must be an integer >= 0 (or None for no reservoir sampling), got {self.sigma!r}")
        if self.max_queries is not None:
            check_positive_int(self.max_queries, "max_queries")
        check_nonnegative(self.lr, "lr")

    def step(self, rho: int) -> float:
        """lambda_rho, the step of the augmentation that follows round ``rho``."""
        return float(self.lam) * (-1.0 if self.tau is not None and (rho // self.tau) % 2 else 1.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def planned_queries(n0: int, config: SubstituteConfig) -> list[int]:
    """New points sent to the oracle per round without a budget: ``[|S_0|, |S_0|, 2|S_0|, ...]``."""
    new, fresh = [n0], n0
    for rho in range(config.rounds - 1):
        fresh = min(config.kappa, fresh) if config.sigma is not None and rho >= config.sigma else n0 * 2**rho
        new.append(fresh)
    return new


def planned_set_size(n0: int, config: SubstituteConfig) -> float:
    """|S| after the last round: S_0 doubles with every augmentation (:func:`planned_queries`) until
    reservoir sampling adds ``kappa`` points a round from ``sigma`` on; at most the query budget.
    A float, so that 10^8 rounds give a huge number at once rather than a loop that does not end."""
    doubling = config.rounds - 1 if config.sigma is None else min(config.rounds - 1, config.sigma)
    total = n0 * 2.0 ** min(doubling, 900)  # 2^900 inputs is past any memory; 2^1024 overflows a float
    if doubling < config.rounds - 1:
        last = n0 * 2.0 ** (doubling - 1) if doubling >= 1 else float(n0)  # what the last doubling added
        total += min(config.kappa, last) * (config.rounds - 1 - doubling)
    return min(total, config.max_queries) if config.max_queries is not None else total


@dataclass
class RoundRecord:
    """One substitute round: the set it trained on, what it cost and how close the copy came."""

    round: int
    set_size: int
    new_points: int
    queries: int
    step: float
    agreement: float | None = None
    accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
