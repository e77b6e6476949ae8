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

from feint import distributed as fd
from feint.attacks.registry import get_attack, run_attack
from feint.attacks.result import AttackResult, finalize
from feint.capabilities.audit.presets import NOISE, AttackPlan
from feint.capabilities.audit.state import AuditState
from feint.data.rows import Inputs
from feint.errors import NonFiniteLogits
from feint.measure.baselines import random_noise
from feint.measure.metrics import goodfellow_row, perturbation_sizes
from feint.memory import release_freed_memory
from feint.oracles import Oracle, QueryBudgetExhausted
from feint.threat import ThreatModel

# An input an attack first broke after this fraction of its iteration budget was broken late: the
# attack was still gaining when it stopped (the convergence gauge of feint.capabilities.audit.escalate).
LATE = 0.5


@dataclass(frozen=True)
class AuditSetup:
    """Everything fixed during an audit; ``plans`` include the noise baseline, last."""

    model: nn.Module | Oracle
    x: Inputs  # a tensor, or a streamed source's rows on disk (feint.data.rows): read per batch
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
    surrogate: nn.Module | None = (
        None  # the transfer rung's copy of a query-only model (feint.capabilities.audit.surrogate)
    )
    # A randomized model (feint.capabilities.audit.adaptive): per eps, the point nearest to breaking each input
    # still robust is kept too, so that the redraws evaluate the attacks' best point, not the clean input.
    keep_near: bool = False


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


def attack_chunk(
    setup: AuditSetup, plan_idx: int, e: int | None, idx: Tensor, c: int, eps: float | None
) -> AttackResult:
    """Run one plan on the rows ``idx`` (the ``c``-th chunk of a unit) with that chunk's own seed;
    the heap it freed goes back to the system (:mod:`feint.memory`)."""
    plan = setup.plans[plan_idx]
    seed = unit_seed(setup.seed, plan_idx, e, c)
    x, y = setup.x[idx], setup.y[idx]
    with naming_rows(idx, setup):
        try:
            if plan.name == NOISE:
                assert eps is not None
                res = random_noise(setup.model, x, y, eps=eps, norm=setup.norm, bounds=setup.bounds, seed=seed)
            else:
                params = attack_params(plan, eps=eps, norm=setup.norm, bounds=setup.bounds, seed=seed)
                if "surrogate" in get_attack(plan.name).parameters():
                    params["surrogate"] = setup.surrogate
                res = run_attack(plan.name, setup.model, x, y, **params)
        except QueryBudgetExhausted:  # the audit's query budget is spent: these rows stay as they were
            res = untouched(setup, idx, eps)
    release_freed_memory()
    return res


def untouched(setup: AuditSetup, idx: Tensor, eps: float | None) -> AttackResult:
    """The result of an attack that could not run on the rows ``idx``: the clean inputs, no success."""
    x = setup.x[idx]
    return AttackResult(
        x=x,
        x_adv=x,
        y=setup.y[idx],
        target=None,
        success=torch.zeros(idx.numel(), dtype=torch.bool, device=x.device),
        adv_logits=setup.clean_logits[idx],
        distance=torch.zeros(idx.numel(), device=x.device),
        queries=0,
        threat=ThreatModel(setup.norm, eps if eps is not None else math.inf, setup.bounds),
        access=setup.access,
    )


@contextmanager
def naming_rows(idx: Tensor, setup: AuditSetup) -> Iterator[None]:
    """An attack on the audit's rows ``idx`` that meets non-finite logits names the audit's rows, not its own."""
    try:
        yield
    except NonFiniteLogits as exc:
        raise exc.remapped(idx.tolist(), total=setup.x.shape[0]) from None


def _chunk_fields(setup: AuditSetup, res: AttackResult, idx: Tensor, robust: Tensor) -> dict[str, Tensor]:
    """What a chunk reports: per-row success, logits and sizes for every rank, and the points of
    the inputs it broke first (``points``: only rank 0 keeps them)."""
    new = res.success & robust[idx]
    late = int((new & (res.found_at > LATE)).sum()) if res.found_at is not None else 0
    return {
        "success": res.success,
        "late": torch.tensor([late], device=setup.x.device),
        "logits": res.adv_logits.to(setup.clean_logits.dtype),
        "sizes": perturbation_sizes(setup.x[idx], res.x_adv),
        "queries": torch.tensor([res.queries], device=setup.x.device),
        "passes": torch.tensor([res.passes], device=setup.x.device),
        "points": res.x_adv[new],
        "near": res.x_adv[~res.success & robust[idx]] if setup.keep_near else res.x_adv[:0],
    }


def _chunks(setup: AuditSetup, rows: Tensor) -> tuple[Tensor, ...]:
    """The batches one process attacks: ``rows`` in order, ``batch_size`` at a time."""
    return rows.split(setup.batch_size) if rows.numel() > 0 else ()


def min_norm_slot(setup: AuditSetup, plan_idx: int) -> int:
    """The point-store slot of minimum-norm plan ``plan_idx``: after the eps slots."""
    return len(setup.eps) + [i for i, p in enumerate(setup.plans) if p.minimum_norm].index(plan_idx)


def store_slots(setup: AuditSetup) -> int:
    return len(setup.eps) + sum(p.minimum_norm for p in setup.plans)


def carry(state: AuditState, e: int) -> None:
    """Inputs broken at eps index e - 1 and not yet at e become broken at e with the same point
    (idempotent; an input some attack broke at e keeps that attack's point)."""
    if e == 0:
        return
    new = (state.broken_by[e - 1] >= 0) & (state.broken_by[e] < 0)
    state.carried[e] |= new
    state.broken_by[e] = torch.where(new, state.broken_by[e - 1], state.broken_by[e])
    state.worst_logits[e][new] = state.worst_logits[e - 1][new]
    state.worst_sizes[e][new] = state.worst_sizes[e - 1][new]


def robust_now(setup: AuditSetup, state: AuditState, e: int) -> Tensor:
    return setup.clean_correct & (state.broken_by[e] < 0)


def within_eps(distance: Tensor, eps: float) -> Tensor:
    """(N,) sizes from a minimum-norm attack that count as inside the eps-ball (float32 round-off allowed)."""
    return distance <= eps * (1 + 1e-6) + 1e-7


def run_min_norm(setup: AuditSetup, state: AuditState, key: str, plan_idx: int) -> None:
    """Run the minimum-norm attack once on every clean-correct input; keep its sizes (every rank)
    and the points it found (rank 0's store)."""
    t0 = time.perf_counter()
    rows = setup.clean_correct.nonzero().squeeze(1)
    distance = torch.full((setup.x.shape[0],), math.inf, device=setup.x.device)
    queries = torch.zeros((), dtype=torch.long, device=setup.x.device)
    passes = torch.zeros(2, dtype=torch.long, device=setup.x.device)
    chunks = _chunks(setup, rows)

    def work(c: int) -> dict[str, Tensor]:
        res = attack_chunk(setup, plan_idx, None, chunks[c], c, None)
        q = torch.tensor([res.queries], device=setup.x.device)
        passes = torch.tensor([res.passes], device=setup.x.device)
        return {
            "success": res.success,
            "distance": res.distance,
            "queries": q,
            "passes": passes,
            "points": res.x_adv[res.success],
        }

    for c, part in fd.map_chunks(len(chunks), work, device=setup.x.device, keep_on_root={"points"}, what=key):
        ok = chunks[c][part["success"]]
        distance[ok] = part["distance"][part["success"]].to(distance.dtype)
        queries += part["queries"].sum()
        passes += part["passes"].sum(0)
        if state.points is not None:
            state.points.write(min_norm_slot(setup, plan_idx), ok, part["points"])
    state.tensors[f"minnorm/{key}/distance"] = distance
    state.finish_unit(key, {"queries": int(queries), "seconds": time.perf_counter() - t0, **pass_record(passes)})


def run_unit(setup: AuditSetup, state: AuditState, key: str, plan_idx: int, e: int) -> None:
    """Run plan ``plan_idx`` at eps index ``e``; record its pool (the inputs it was responsible
    for), its successes and the inputs it broke first (their logits, sizes and points)."""
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
    adv_logits = setup.clean_logits.clone()
    queries = torch.zeros((), dtype=torch.long, device=setup.x.device)
    passes = torch.zeros(2, dtype=torch.long, device=setup.x.device)
    broke = late = 0
    chunks = _chunks(setup, rows) if eps > 0 else ()

    def work(c: int) -> dict[str, Tensor]:
        idx = chunks[c]
        if plan.minimum_norm:  # rank 0 re-checks the points it keeps, clipped to this eps
            assert state.points is not None
            assert isinstance(setup.model, nn.Module)  # minimum-norm attacks are white-box
            points = state.points.read(min_norm_slot(setup, plan_idx), idx).to(setup.x.device)
            with naming_rows(idx, setup):
                res = finalize(setup.model, setup.x[idx], setup.y[idx], points, threat)
            return {
                **_chunk_fields(setup, res, idx, robust),
                "queries": torch.zeros(1, dtype=torch.long, device=res.x.device),
                "passes": torch.tensor([[idx.numel(), 0]], device=res.x.device),  # the re-check's forward rows
            }
        return _chunk_fields(setup, attack_chunk(setup, plan_idx, e, idx, c, eps), idx, robust)

    parts = fd.map_chunks(
        len(chunks),
        work,
        device=setup.x.device,
        keep_on_root={"points", "near"},
        root_only=plan.minimum_norm,
        what=key,
    )
    for c, part in parts:
        idx = chunks[c]
        success[idx] = part["success"]
        adv_logits[idx] = part["logits"]
        queries += part["queries"].sum()
        passes += part["passes"].sum(0)
        late += int(part["late"].sum())
        first = part["success"] & robust[idx]
        new = idx[first]
        broke += int(new.numel())
        state.broken_by[e][new] = plan_idx
        state.worst_logits[e][new] = part["logits"][first]
        state.worst_sizes[e][new] = part["sizes"][first]
        if state.points is not None:
            state.points.write(e, new, part["points"])
            if setup.keep_near:
                still = ~part["success"] & robust[idx]
                keep_near(setup, state, e, idx, still, part["near"], part["logits"])
    record: dict[str, Any] = {
        "queries": int(queries),
        "seconds": time.perf_counter() - t0,
        "broke": broke,
        "late": late,
        **pass_record(passes),
    }
    if plan.standalone:
        record.update(standalone_numbers(setup, adv_logits))
    state.tensors[f"pool/{key}"] = pool
    state.tensors[f"success/{key}"] = success
    state.finish_unit(key, record)


def keep_near(
    setup: AuditSetup, state: AuditState, e: int, idx: Tensor, still: Tensor, near: Tensor, logits: Tensor
) -> None:
    """Rank 0 keeps, in eps ``e``'s point slot, the point ``near`` of each input ``idx[still]`` (still
    robust after this attack; ``logits`` of the chunk) whose margin ``z_y - max_{j != y} z_j`` is the
    smallest so far at ``e``."""
    rows = idx[still]
    if rows.numel() == 0 or state.points is None:
        return
    key = "near/margin"
    if key not in state.tensors:
        state.tensors[key] = torch.full((len(setup.eps), setup.x.shape[0]), math.inf, device=setup.x.device)
    z, y = logits[still], setup.y[rows]
    margin = z.gather(1, y[:, None]).squeeze(1) - z.scatter(1, y[:, None], -math.inf).amax(1)
    better = margin < state.tensors[key][e, rows]
    state.points.write(e, rows[better], near[better])
    state.tensors[key][e, rows[better]] = margin[better].to(state.tensors[key].dtype)


def pass_record(passes: Tensor) -> dict[str, int]:
    """A unit record's pass counts from its summed (forward rows, backward rows)."""
    return {"forward_rows": int(passes[0]), "backward_rows": int(passes[1])}


def standalone_numbers(setup: AuditSetup, adv_logits: Tensor) -> dict[str, Any]:
    """Accuracy on every input and Goodfellow et al.'s figures (error rate, mean wrong confidence)
    from the (N, K) logits after the attack (the clean ones where it did not run)."""
    error, conf = goodfellow_row(adv_logits, setup.y)
    return {"accuracy": 1.0 - error, "goodfellow": [error, conf]}
