"""The audit adapts to the model before it attacks: BPDA through non-differentiable parts, EOT and
redraws for randomized ones, the query-only path where white-box attacks cannot run.

AutoAttack (Croce & Hein 2020) flags such models and stops; Athalye, Carlini & Wagner 2018
("Obfuscated Gradients Give a False Sense of Security") show the evaluation they need instead.
On a probe of clean-correct inputs the audit runs, before any attack:

1. the gradient check: where the margin's input gradient is zero, absent or not finite,
   :func:`feint.capabilities.audit.gradient_flow.trace_gradient` locates the submodules responsible, and
   every attack gets the model with them bypassed (:class:`feint.attacks.bpda.BpdaModel`: their
   forward kept, their backward the identity or the user's approximation), traced again until the
   gradient lives or nothing more can be bypassed. Where no part can be isolated and the gradient
   is dead (the model leaves autograd inside its own forward, e.g. a numpy or PIL step), the model
   is degraded to a score oracle and the audit takes the query-only path, saying that white-box
   attacks could not run;
2. the determinism check: where two passes differ, the model's randomness must be seedable, and
   every gradient attack gets the model averaged over ``k`` draws
   (:class:`feint.attacks.eot.ExpectationOverDraws`); after the attacks, every final point is
   evaluated over ``r`` seeded redraws (:mod:`feint.capabilities.audit.redraws`).

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
from feint.capabilities.audit import checks as ck
from feint.capabilities.audit.gradient_flow import GradientTrace, trace_gradient
from feint.capabilities.audit.presets import BYPASS
from feint.capabilities.audit.randomness import check_seedable, choose_draws
from feint.data.rows import Inputs
from feint.oracles import Oracle, as_oracle
from feint.validation import check_positive_int

PROBE = 256
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
    def bypassed(self) -> bool:
        """Whether the attacks go through BPDA (white-box, with parts bypassed)."""
        return self.access == "white-box" and bool((self.section.get("gradient") or {}).get("bypassed"))

    @property
    def eot(self) -> bool:
        """Whether the attacks go through an EOT average (a randomized white-box model)."""
        return isinstance(self.model, ExpectationOverDraws)

    @property
    def adapted(self) -> bool:
        return self.model is not self.original


def check_counts(eot_samples: int | None, redraws: int | None) -> None:
    """k and r, where given, are positive integers: one clear error otherwise."""
    if eot_samples is not None:
        check_positive_int(eot_samples, "eot_samples (--eot-samples)")
    if redraws is not None:
        check_positive_int(redraws, "redraws (--redraws)")


def _probe_rows(clean_correct: Tensor, limit: int) -> Tensor:
    rows = clean_correct.nonzero().squeeze(1)[:limit]
    return rows if rows.numel() > 0 else torch.arange(min(limit, clean_correct.numel()), device=clean_correct.device)


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
    x: Inputs,
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
    batch_size: int = PROBE,
) -> Adaptation:
    """Probe ``model`` and return what its attacks should get (see the module docstring). The probe
    runs on at most :data:`PROBE` clean-correct inputs, and no more than ``batch_size`` (one forward
    and backward pass on them at once: a big model at the audit's batch size fits, more might not)."""
    check_counts(eot_samples, redraws)
    approximations = dict(approximations or {})
    if isinstance(model, Oracle) or not enabled:
        if approximations and isinstance(model, Oracle):
            from feint.errors import InputError

            raise InputError("approximations need a torch module: a query-only model has no submodules to bypass")
        access = "white-box" if isinstance(model, nn.Module) else "oracle"
        section = {"enabled": False, "checks": [], "gradient": None, "randomized": None, "notes": []}
        return Adaptation(model, model if isinstance(model, nn.Module) else None, access, section)
    rows = _probe_rows(clean_correct, min(PROBE, batch_size))
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
        # the gradient noise is measured through what the attacks differentiate (BPDA where parts were bypassed)
        probed = attacked if isinstance(attacked, nn.Module) else model
        k, r, reason = choose_draws(probed, xp, yp, seed, eot_samples=eot_samples, redraws=redraws)
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


def adaptive_summary(setup: Any, state: Any) -> dict[str, Any]:
    """The report's ``adaptive`` section: the probes' findings, and per attack that ran through the
    adapted model (or, a score-based search, on its own forward beside them) what it broke per eps
    and the passes it cost (the adaptive rungs)."""
    rec = state.records.get(RECORD)
    if rec is None:
        return {"enabled": False, "checks": [], "gradient": None, "randomized": None, "notes": [], "rungs": []}
    section = dict(rec["section"])
    how = through(section)
    rungs = []
    if how and setup.access == "white-box":
        for plan in setup.plans:
            if plan.standalone:
                continue
            units = [state.records.get(f"{plan.key}@{e}", {}) for e in range(len(setup.eps))]
            once = state.records.get(plan.key, {}) if plan.minimum_norm else {}
            rungs.append(
                {
                    "attack": plan.key,
                    "through": "the model's own forward (a score-based search, no gradient)"
                    if plan.kind == "black-box"
                    else how,
                    "broke": [int(u.get("broke", 0)) for u in units],
                    "forward_rows": sum(int(u.get("forward_rows", 0)) for u in [*units, once]),
                    "backward_rows": sum(int(u.get("backward_rows", 0)) for u in [*units, once]),
                }
            )
    section["rungs"] = rungs
    searched = [p.key for p in setup.plans if BYPASS in p.opens_on]
    if searched and (section.get("gradient") or {}).get("bypassed"):
        section["notes"] = [
            *section["notes"],
            "BPDA's gradient is only an approximation of the model's: on the inputs still robust after the "
            f"attacks through it, score-based searches ({', '.join(searched)} and the rungs after it) ran on the "
            "model's own forward (see the escalation section)",
        ]
    return section
