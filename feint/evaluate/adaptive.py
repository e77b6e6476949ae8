"""The audit adapts to the model before it attacks: BPDA through non-differentiable parts, EOT and
redraws for randomized ones, the query-only path where white-box attacks cannot run.

AutoAttack (Croce & Hein 2020) flags such models and stops; Athalye, Carlini & Wagner 2018
("Obfuscated Gradients Give a False Sense of Security") show the evaluation they need instead.
On a probe of clean-correct inputs the audit runs, before any attack:

1. the gradient check: where the margin's input gradient is zero, absent or not finite,
   :func:`feint.evaluate.gradient_flow.trace_gradient` locates the submodules responsible, and
   every attack gets the model with them bypassed (:class:`feint.attacks.bpda.BpdaModel`: their
   forward kept, their backward the identity or the user's approximation), traced again until the
   gradient lives or nothing more can be bypassed. Where no part can be isolated and the gradient
   is dead (the model leaves autograd inside its own forward, e.g. a numpy or PIL step), the model
   is degraded to a score oracle and the audit takes the query-only path, saying that white-box
   attacks could not run;
2. the determinism check: where two passes differ, the model's randomness must be seedable, and
   every gradient attack gets the model averaged over ``k`` draws
   (:class:`feint.attacks.eot.ExpectationOverDraws`); after the attacks, every final point is
   evaluated over ``r`` seeded redraws (:mod:`feint.evaluate.randomness`).

What fired, what was bypassed and how, k, r and why, what each attack through the adapted model
broke and the passes it cost go to the report's ``adaptive`` section.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.bpda import Approximation, BpdaModel, check_approximations
from feint.attacks.eot import ExpectationOverDraws
from feint.evaluate import checks as ck
from feint.evaluate.gradient_flow import GradientTrace, trace_gradient
from feint.evaluate.randomness import (
    check_seedable,
    choose_draws,
    deepen,
    margins,
    redraw_figures,
    redraw_seed,
    redraw_verdicts,
)
from feint.oracles import Oracle, as_oracle
from feint.validation import check_positive_int

PROBE = 256
# EOT-PGD steps, and draws per step, that push each final point of a randomized model past the
# boundary before the redraws (the attacks stop at the first fooling point, where a random model is
# wrong in about half the draws).
DEEPEN_STEPS = 50
DEEPEN_DRAWS = 8
RECORD = "adaptive"
BYPASS_ROUNDS = 4


@dataclass
class Adaptation:
    """What the attacks get (``model`` at ``access``), the original module (``original``, None for an
    oracle) and the report's ``adaptive`` section so far."""

    model: nn.Module | Oracle
    original: nn.Module | None
    access: str
    section: dict[str, Any]

    @property
    def redraws(self) -> int:
        randomized = self.section.get("randomized")
        return int(randomized["redraws"]) if randomized else 0

    @property
    def adapted(self) -> bool:
        return self.model is not self.original


def check_counts(eot_samples: int | None, redraws: int | None) -> None:
    """k and r, where given, are positive integers: one clear error otherwise."""
    if eot_samples is not None:
        check_positive_int(eot_samples, "eot_samples (--eot-samples)")
    if redraws is not None:
        check_positive_int(redraws, "redraws (--redraws)")


def _probe_rows(clean_correct: Tensor) -> Tensor:
    rows = clean_correct.nonzero().squeeze(1)[:PROBE]
    return rows if rows.numel() > 0 else torch.arange(min(PROBE, clean_correct.numel()), device=clean_correct.device)


def _gradient_check(trace: GradientTrace) -> ck.Check:
    name = "gradients are non-zero and finite"
    where = (
        "the output does not depend on the input in autograd (a step outside torch)"
        if not trace.connected
        else ("the margin gradient is not finite" if trace.non_finite else "the margin gradient is exactly zero")
    )
    parts = ", ".join(f"{p!r} ({why})" for p, why in trace.parts.items()) or "no single submodule"
    return ck.Check(
        name,
        "fail" if not trace.connected or trace.non_finite else "warn",
        f"before the attacks, on {trace.dead}/{trace.n} probe inputs {where}; the gradient dies in {parts}",
    )


def _bypass(
    model: nn.Module, x: Tensor, y: Tensor, approximations: Mapping[str, Approximation], first: GradientTrace
) -> tuple[dict[str, Approximation | None], GradientTrace]:
    """The parts to bypass (the user's approximations first, then every shape-preserving part the
    trace names, with the identity), traced again until the gradient lives or no new part is found;
    and the last trace."""
    parts: dict[str, Approximation | None] = dict(approximations)
    trace = trace_gradient(BpdaModel(model, parts), x, y, named=model) if parts else first
    for _ in range(BYPASS_ROUNDS):
        new = {p: None for p in trace.parts if p not in parts and trace.keeps_shape.get(p)}
        if not trace.fired or not new:
            break
        parts.update(new)
        trace = trace_gradient(BpdaModel(model, parts), x, y, named=model)
    return parts, trace


def adapt(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    clean_correct: Tensor,
    *,
    num_classes: int,
    bounds: tuple[float, float],
    seed: int,
    enabled: bool = True,
    approximations: Mapping[str, Approximation] | None = None,
    eot_samples: int | None = None,
    redraws: int | None = None,
) -> Adaptation:
    """Probe ``model`` and return what its attacks should get (see the module docstring)."""
    check_counts(eot_samples, redraws)
    approximations = dict(approximations or {})
    if isinstance(model, Oracle) or not enabled:
        if approximations and isinstance(model, Oracle):
            from feint.errors import InputError

            raise InputError("approximations need a torch module: a query-only model has no submodules to bypass")
        access = "white-box" if isinstance(model, nn.Module) else "oracle"
        section = {"enabled": False, "checks": [], "gradient": None, "randomized": None, "notes": []}
        return Adaptation(model, model if isinstance(model, nn.Module) else None, access, section)
    rows = _probe_rows(clean_correct)
    xp, yp = x[rows], y[rows]
    n = int(rows.numel())
    if approximations:
        check_approximations(model, approximations, xp[:4])
    notes: list[str] = []
    fired: list[ck.Check] = []
    first = trace_gradient(model, xp, yp)
    gradient: dict[str, Any] = {
        "probe_inputs": n,
        "dead_inputs": first.dead,
        "connected": first.connected,
        "bypassed": [],
        "dead_after_bypass": first.dead,
    }
    attacked: nn.Module | Oracle = model
    access = "white-box"
    if first.fired or approximations:
        if first.fired:
            fired.append(_gradient_check(first))
        parts, last = _bypass(model, xp, yp, approximations, first)
        gradient["dead_after_bypass"] = last.dead
        gradient["bypassed"] = [
            {
                "module": p,
                "why": first.parts.get(p, last.parts.get(p, "user approximation")),
                "how": "the user's differentiable approximation"
                if p in approximations
                else "identity (straight-through)",
            }
            for p in parts
        ]
        stuck = [p for p, why in first.parts.items() if p not in parts]
        if stuck:
            notes.append(
                f"could not bypass {', '.join(repr(p) for p in stuck)} with the identity (it changes the shape); "
                f"pass approximations={{name: fn}} to attack through it"
            )
        if parts:
            attacked = BpdaModel(model, parts)
        if last.dead > ck.tolerance(n) and (not last.connected or last.dead * 2 > n):
            attacked = as_oracle(
                model, access="scores", num_classes=num_classes, bounds=bounds, name=type(model).__name__
            )
            access = "scores"
            notes.append(
                "white-box attacks could not run: the gradient is dead on "
                f"{last.dead}/{n} probe inputs and no submodule could be bypassed "
                + (
                    "(the model leaves autograd inside its own forward)"
                    if not last.connected
                    else "(the gradient dies inside the model's own forward)"
                )
                + "; the model was degraded to a score oracle and the query-only attacks ran"
            )
    randomized = None
    deterministic = ck.check_deterministic(model, xp)
    if deterministic.status != "pass":
        fired.append(deterministic)
        check_seedable(model, xp, seed)
        k, r, reason = choose_draws(model, xp, yp, seed, eot_samples=eot_samples, redraws=redraws)
        randomized = {"eot_samples": k, "redraws": r, "reason": reason, "seed": seed}
        if isinstance(attacked, nn.Module):
            attacked = ExpectationOverDraws(attacked, k)
        else:
            notes.append(f"the query-only attacks ran on single draws; the {r} redraws still apply to their points")
    elif eot_samples is not None or redraws is not None:
        notes.append("eot_samples and redraws were not used: two passes on the same inputs gave the same logits")
    section = {
        "enabled": True,
        "checks": [c.to_dict() for c in fired],
        "gradient": gradient,
        "randomized": randomized,
        "notes": notes,
    }
    return Adaptation(attacked, model, access, section)


def through(adaptation: dict[str, Any]) -> str:
    """How the attacks reached the model, in words (for the rungs of the report)."""
    ways = []
    gradient = adaptation.get("gradient") or {}
    if gradient.get("bypassed"):
        ways.append("BPDA through " + ", ".join(repr(b["module"]) for b in gradient["bypassed"]))
    if adaptation.get("randomized"):
        ways.append(f"EOT over {adaptation['randomized']['eot_samples']} draws")
    return " + ".join(ways)


def record(state: Any, adaptation: Adaptation) -> None:
    """Keep the section in the audit state (kept when it resumes)."""
    if RECORD not in state.records:
        state.records[RECORD] = {"section": adaptation.section}


def evaluate_redraws(setup: Any, state: Any, adaptation: Adaptation) -> None:
    """Evaluate every eps's final points over the chosen redraws: the worst-case point where an attack
    broke the input, else the attacks' point nearest to breaking it (the smallest margin of the EOT
    logits, :func:`feint.evaluate.runner.keep_near`), else the clean input; keep the figures in the state."""
    rec = state.records[RECORD]
    randomized = rec["section"].get("randomized")
    if not randomized or "accuracy_mean" in randomized or adaptation.original is None or state.points is None:
        return
    r, seed = int(randomized["redraws"]), int(randomized["seed"])
    seeds = [redraw_seed(seed, i) for i in range(r)]
    near = state.tensors.get("near/margin")
    figures: dict[str, list[float]] = {k: [] for k in ("mean", "strict", "std", "min", "max")}
    per_redraw = []
    deep_rows = [0, 0]
    for e in range(len(setup.eps)):
        points = setup.x.clone()
        broken = (state.broken_by[e] >= 0).nonzero().squeeze(1)
        if broken.numel():
            points[broken] = state.worst_points(e, broken).to(points.device, points.dtype)
        if near is not None:
            kept = (torch.isfinite(near[e]) & (state.broken_by[e] < 0)).nonzero().squeeze(1)
            if kept.numel():
                points[kept] = state.points.read(e, kept).to(points.device, points.dtype)
        if isinstance(adaptation.model, ExpectationOverDraws) and setup.eps[e] > 0:
            draws = max(adaptation.model.draws, DEEPEN_DRAWS)
            points, deepened = _deepen_points(setup, ExpectationOverDraws(adaptation.model.model, draws), points, e)
            deep_rows[0] += deepened[0]
            deep_rows[1] += deepened[1]
        verdicts = redraw_verdicts(adaptation.original, points, setup.y, seeds)
        for k, v in redraw_figures(verdicts).items():
            figures[k].append(v)
        per_redraw.append([float(a) for a in verdicts.float().mean(1)])
    randomized.update({f"accuracy_{k}": v for k, v in figures.items()})
    randomized["per_redraw"] = per_redraw
    randomized["deepening"] = {
        "steps": DEEPEN_STEPS,
        "draws": max(adaptation.model.draws, DEEPEN_DRAWS) if isinstance(adaptation.model, ExpectationOverDraws) else 0,
        "forward_rows": deep_rows[0],
        "backward_rows": deep_rows[1],
    }


def _deepen_points(setup: Any, model: nn.Module, points: Tensor, e: int) -> tuple[Tensor, tuple[int, int]]:
    """Per clean-correct input, the better of its point and that point pushed :data:`DEEPEN_STEPS`
    EOT-PGD steps further (``model``: the EOT average of :data:`DEEPEN_DRAWS` draws or more) (:func:`feint.evaluate.randomness.deepen`): the one with the smaller
    margin of the EOT logits (chosen on the EOT draws, not on the redraws that measure it), and
    the forward and backward rows it cost."""
    from feint.attacks.core import QueryCounter
    from feint.threat import ThreatModel

    rows = setup.clean_correct.nonzero().squeeze(1)
    if rows.numel() == 0:
        return points, (0, 0)
    counted = QueryCounter(model)
    threat = ThreatModel(setup.norm, setup.eps[e], setup.bounds)
    out = points.clone()
    for idx in rows.split(setup.batch_size):
        x, y, start = setup.x[idx], setup.y[idx], points[idx]
        deep = deepen(counted, x, start, y, threat, steps=DEEPEN_STEPS)
        take = margins(counted, deep, y) < margins(counted, start, y)
        out[idx] = torch.where(take.view(-1, *([1] * (x.dim() - 1))), deep, start)
    return out, (counted.forward_rows, counted.backward_rows)


def adaptive_summary(setup: Any, state: Any) -> dict[str, Any]:
    """The report's ``adaptive`` section: the probes' findings, and per attack that ran through the
    adapted model what it broke per eps and the passes it cost (the adaptive rungs)."""
    rec = state.records.get(RECORD)
    if rec is None:
        return {"enabled": False, "checks": [], "gradient": None, "randomized": None, "notes": [], "rungs": []}
    section = dict(rec["section"])
    how = through(section)
    rungs = []
    if how and setup.access == "white-box":
        for plan in setup.plans:
            if plan.kind == "black-box" or plan.name == "noise":
                continue
            units = [state.records.get(f"{plan.key}@{e}", {}) for e in range(len(setup.eps))]
            once = state.records.get(plan.key, {}) if plan.minimum_norm else {}
            rungs.append(
                {
                    "attack": plan.key,
                    "through": how,
                    "broke": [int(u.get("broke", 0)) for u in units],
                    "forward_rows": sum(int(u.get("forward_rows", 0)) for u in [*units, once]),
                    "backward_rows": sum(int(u.get("backward_rows", 0)) for u in [*units, once]),
                }
            )
    section["rungs"] = rungs
    return section
