"""Running one audit unit (an attack at one eps) on the inputs that need it, and recording it.

Attacking only the inputs still robust is AutoAttack's rule (Croce & Hein 2020, "Reliable
evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks"); a
minimum-norm attack (FMN, Pintor et al. 2021) answers every eps from one run.

Shapes: x (N, C, H, W), y (N,); the state's per-eps tensors are (E, N, ...). A sequential attack
at eps index e runs on the inputs still robust there: clean-correct, not broken at a smaller eps
(those are *carried*: their adversarial point lies inside every larger ball) and not broken by an
earlier attack at e. Standalone attacks run on every input; a minimum-norm attack runs once and
each eps only re-checks its points that are small enough.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.registry import get_attack, run_attack
from feint.attacks.result import AttackResult, finalize
from feint.errors import NonFiniteLogits
from feint.evaluate.baselines import random_noise
from feint.evaluate.presets import NOISE, AttackPlan
from feint.evaluate.state import AuditState
from feint.oracles import Oracle
from feint.threat import ThreatModel


@dataclass(frozen=True)
class AuditSetup:
    """Everything fixed during an audit; ``plans`` include the noise baseline, last."""

    model: nn.Module | Oracle
    x: Tensor
    y: Tensor
    clean_logits: Tensor
    clean_correct: Tensor
    eps: tuple[float, ...]
    norm: str
    bounds: tuple[float, float]
    plans: tuple[AttackPlan, ...]
    seed: int
    batch_size: int = 1000
    access: str = "white-box"


def unit_keys(setup: AuditSetup) -> list[tuple[str, int, int | None]]:
    """``(key, plan index, eps index or None)`` in run order: min-norm runs, then per eps the
    sequential attacks in order followed by the standalone ones."""
    keys: list[tuple[str, int, int | None]] = [(p.key, i, None) for i, p in enumerate(setup.plans) if p.minimum_norm]
    order = [i for i, p in enumerate(setup.plans) if not p.standalone] + [
        i for i, p in enumerate(setup.plans) if p.standalone
    ]
    for e in range(len(setup.eps)):
        keys += [(f"{setup.plans[i].key}@{e}", i, e) for i in order]
    return keys


def unit_seed(seed: int, plan: int, e: int | None, chunk: int) -> int:
    return (seed * 1_000_003 + plan * 10_007 + (e if e is not None else 997) * 101 + chunk) % 2**31


def attack_params(
    plan: AttackPlan, *, eps: float | None, norm: str, bounds: tuple[float, float], seed: int
) -> dict[str, Any]:
    """The keyword arguments for ``plan``'s attack: the shared ones it accepts, then its own."""
    accepted = get_attack(plan.name).parameters()
    shared = {"norm": norm, "bounds": bounds, "seed": seed}
    if eps is not None:
        shared["eps"] = eps
    return {**{k: v for k, v in shared.items() if k in accepted}, **plan.params}


def _run_chunks(setup: AuditSetup, plan_idx: int, e: int | None, rows: Tensor, eps: float | None) -> AttackResult:
    """Run one plan on ``rows`` of the data in chunks of ``batch_size``, merged into one result."""
    plan = setup.plans[plan_idx]
    parts: list[AttackResult] = []
    for c, start in enumerate(range(0, rows.numel(), setup.batch_size)):
        idx = rows[start : start + setup.batch_size]
        seed = unit_seed(setup.seed, plan_idx, e, c)
        x, y = setup.x[idx], setup.y[idx]
        with naming_rows(idx, setup):
            if plan.name == NOISE:
                assert eps is not None
                parts.append(random_noise(setup.model, x, y, eps=eps, norm=setup.norm, bounds=setup.bounds, seed=seed))
            else:
                params = attack_params(plan, eps=eps, norm=setup.norm, bounds=setup.bounds, seed=seed)
                parts.append(run_attack(plan.name, setup.model, x, y, **params))
    return _concat(parts)


@contextmanager
def naming_rows(idx: Tensor, setup: AuditSetup) -> Iterator[None]:
    """An attack on the audit's rows ``idx`` that meets non-finite logits names the audit's rows, not its own."""
    try:
        yield
    except NonFiniteLogits as exc:
        raise exc.remapped(idx.tolist(), total=setup.x.shape[0]) from None


def _concat(parts: list[AttackResult]) -> AttackResult:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return AttackResult(
        x=torch.cat([p.x for p in parts]),
        x_adv=torch.cat([p.x_adv for p in parts]),
        y=torch.cat([p.y for p in parts]),
        target=None,
        success=torch.cat([p.success for p in parts]),
        adv_logits=torch.cat([p.adv_logits for p in parts]),
        distance=torch.cat([p.distance for p in parts]),
        queries=sum(p.queries for p in parts),
        threat=first.threat,
    )


def carry(state: AuditState, e: int) -> None:
    """Inputs broken at eps index e - 1 and not yet at e become broken at e with the same point
    (idempotent; an input some attack broke at e keeps that attack's point)."""
    if e == 0:
        return
    new = (state.broken_by[e - 1] >= 0) & (state.broken_by[e] < 0)
    state.carried[e] |= new
    state.broken_by[e] = torch.where(new, state.broken_by[e - 1], state.broken_by[e])
    state.x_worst[e][new] = state.x_worst[e - 1][new]


def robust_now(setup: AuditSetup, state: AuditState, e: int) -> Tensor:
    return setup.clean_correct & (state.broken_by[e] < 0)


def within_eps(distance: Tensor, eps: float) -> Tensor:
    """(N,) sizes from a minimum-norm attack that count as inside the eps-ball (float32 round-off allowed)."""
    return distance <= eps * (1 + 1e-6) + 1e-7


def run_min_norm(setup: AuditSetup, state: AuditState, key: str, plan_idx: int) -> None:
    """Run the minimum-norm attack once on every clean-correct input; keep its points and sizes."""
    t0 = time.perf_counter()
    rows = setup.clean_correct.nonzero().squeeze(1)
    distance = torch.full((setup.x.shape[0],), math.inf, device=setup.x.device)
    x_adv = setup.x.clone()
    queries = 0
    if rows.numel() > 0:
        res = _run_chunks(setup, plan_idx, None, rows, None)
        ok = rows[res.success]
        distance[ok] = res.distance[res.success].to(distance.dtype)
        x_adv[rows] = res.x_adv
        queries = res.queries
    state.tensors[f"minnorm/{key}/distance"] = distance
    state.tensors[f"minnorm/{key}/x_adv"] = x_adv
    state.finish_unit(key, {"queries": queries, "seconds": time.perf_counter() - t0})


def run_unit(setup: AuditSetup, state: AuditState, key: str, plan_idx: int, e: int) -> None:
    """Run plan ``plan_idx`` at eps index ``e``; record its pool (the inputs it was responsible
    for), its successes and the inputs it broke first."""
    t0 = time.perf_counter()
    carry(state, e)
    plan, eps = setup.plans[plan_idx], setup.eps[e]
    threat = ThreatModel(setup.norm, eps, setup.bounds)
    robust = robust_now(setup, state, e)
    n = setup.x.shape[0]
    pool = torch.ones_like(robust) if plan.standalone else robust
    ran = pool.clone()
    if plan.minimum_norm:
        ran &= within_eps(state.tensors[f"minnorm/{plan.key}/distance"], eps)
    rows = ran.nonzero().squeeze(1)
    success = torch.zeros(n, dtype=torch.bool, device=setup.x.device)
    x_adv, adv_logits, queries = setup.x.clone(), None, 0
    if rows.numel() > 0 and eps > 0:
        if plan.minimum_norm:
            assert isinstance(setup.model, nn.Module)  # minimum-norm attacks are white-box
            points = state.tensors[f"minnorm/{plan.key}/x_adv"][rows]
            with naming_rows(rows, setup):
                res = finalize(setup.model, setup.x[rows], setup.y[rows], points, threat)
        else:
            res = _run_chunks(setup, plan_idx, e, rows, eps)
            queries = res.queries
        success[rows] = res.success
        x_adv[rows] = res.x_adv
        adv_logits = res.adv_logits
    new = success & robust
    state.broken_by[e][new] = plan_idx
    state.x_worst[e][new] = x_adv[new]
    record: dict[str, Any] = {"queries": queries, "seconds": time.perf_counter() - t0, "broke": int(new.sum())}
    if plan.standalone:
        record.update(standalone_numbers(setup, success, adv_logits, rows))
    state.tensors[f"pool/{key}"] = pool
    state.tensors[f"success/{key}"] = success
    state.finish_unit(key, record)


def standalone_numbers(setup: AuditSetup, success: Tensor, adv_logits: Tensor | None, rows: Tensor) -> dict[str, Any]:
    """Accuracy on every input and Goodfellow et al.'s figures (error rate, mean wrong confidence)."""
    from feint.evaluate.metrics import goodfellow_row

    logits = setup.clean_logits.clone()
    if adv_logits is not None:
        logits[rows] = adv_logits
    error, conf = goodfellow_row(logits, setup.y)
    return {"accuracy": 1.0 - error, "goodfellow": [error, conf]}
