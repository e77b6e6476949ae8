"""Epsilon sweeps: one attack over increasing budgets, as in Foolbox 3's ``epsilons=[...]``.

A fixed-budget attack runs once per eps. A minimum-norm attack (registered with
``minimum_norm=True``: no eps, its result's ``distance`` is each sample's perturbation size) runs
ONCE and answers every eps from ``success & (distance <= eps + 1e-6)``, which is exact for it.
Shapes: x (N, C, H, W), y (N,); ``SweepResult.success`` is (len(eps), N).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.registry import ATTACKS, AttackSpec, get_attack, run_attack
from feint.attacks.result import AttackResult, predict_logits
from feint.errors import InputError
from feint.oracles import Oracle
from feint.progress import milestone
from feint.validation import check_nonnegative

TOLERANCE = 1e-6


@dataclass(frozen=True)
class SweepResult:
    """One attack at several budgets.

    Attributes:
        eps: the budgets, in the order given.
        success: (len(eps), N) bool, the attack's verdict per budget and sample.
        accuracy: per eps, the fraction of samples classified correctly and not successfully attacked.
        queries: per eps, the queries spent (for a minimum-norm attack, the one run's count at every eps).
        results: per eps, the checked :class:`AttackResult`.
    """

    eps: tuple[float, ...]
    success: Tensor
    accuracy: list[float]
    queries: list[int]
    results: list[AttackResult]

    @property
    def success_rate(self) -> list[float]:
        return [float(s.float().mean()) for s in self.success]


def _spec_of(attack: str | Callable[..., AttackResult]) -> AttackSpec | None:
    if isinstance(attack, str):
        return get_attack(attack)
    if not callable(attack):
        raise InputError(f"attack must be a registered name or an attack function, got {type(attack).__name__}")
    return next((spec for spec in ATTACKS.values() if spec.fn is attack), None)


def _within(result: AttackResult, eps: float, clean_logits: Tensor) -> AttackResult:
    """A minimum-norm result seen at budget ``eps``: samples beyond it count as not attacked (clean input)."""
    ok = result.success & (result.distance <= eps + TOLERANCE)
    rows = ok.view(-1, *([1] * (result.x.dim() - 1)))
    return dataclasses.replace(
        result,
        x_adv=torch.where(rows, result.x_adv, result.x),
        success=ok,
        adv_logits=torch.where(ok[:, None], result.adv_logits, clean_logits),
        distance=torch.where(ok, result.distance, torch.zeros_like(result.distance)),
        threat=result.threat.with_eps(eps),
    )


def sweep(
    attack: str | Callable[..., AttackResult],
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    eps: Sequence[float],
    progress: bool = False,
    **params: Any,
) -> SweepResult:
    """Run ``attack`` (a registry name or function) at every budget in ``eps`` with the options ``params``;
    ``progress``: one line on stderr per budget done."""
    budgets = tuple(float(e) for e in eps) if isinstance(eps, Sequence) and not isinstance(eps, str) else ()
    if not budgets:
        raise InputError(f"eps must be a non-empty sequence of budgets, e.g. eps=[0.0, 0.1, 0.2], got {eps!r}")
    for e in budgets:
        check_nonnegative(e, "every eps", finite=False)
    spec = _spec_of(attack)

    def call(**kw: Any) -> AttackResult:
        if isinstance(attack, str):
            return run_attack(attack, model, x, y, **kw)
        return attack(model, x, y, **kw)

    if spec is not None and spec.minimum_norm:
        once = call(**params)
        clean = predict_logits(model, x)
        results = [_within(once, e, clean) for e in budgets]
    else:
        results = []
        for e in budgets:
            results.append(call(eps=e, **params))
            milestone(
                progress,
                f"{getattr(spec, 'name', 'attack')}: eps {e:g} done, success rate {results[-1].success_rate:.4f}",
            )
        clean = predict_logits(model, x)
    correct = clean.argmax(1) == results[0].y
    success = torch.stack([r.success for r in results])
    return SweepResult(
        eps=budgets,
        success=success,
        accuracy=[float((correct & ~s).float().mean()) for s in success],
        queries=[r.queries for r in results],
        results=results,
    )
