"""An audit that adapts: where the evidence says its attacks have not converged, it escalates.

AutoAttack (Croce & Hein 2020) fixes one budget; the checks of Carlini et al. 2019 ("On
Evaluating Adversarial Robustness") only warn. A defensively distilled network (Papernot et al.
2016) shows why warning is not enough: its saturated softmax zeroes the cross-entropy gradient,
the scale-invariant attacks still break most inputs, and a fixed small budget stops short of
what more target classes find. So after the preset's attacks have run at every eps, the audit
decides, per eps:

- where a gradient-masking check warns (or fails), or
- where the targeted attack was still gaining when it stopped: the preset's *gauge*, APGD-T on
  its last target class (the second runner-up), broke at least ``gain_threshold`` of the inputs
  the attacks before it missed — further target classes are then likely to break more,

it runs the preset's escalation ladder on the inputs still robust there: the first rung
everywhere it was triggered, each next rung only where the rung before still broke at least
the threshold. Nothing runs where nothing warns and the gauge gained less, so a model the
standard budget already measures costs no more. The decision and its reasons are kept in the
resumable state and in the report. Under torchrun rank 0 runs the checks and decides, and every
rank follows its decision (the rungs' units are shared out like any other). Shapes as in
:mod:`feint.evaluate.runner`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from feint import distributed as fd
from feint.evaluate.checks import Check
from feint.evaluate.presets import Preset
from feint.evaluate.runner import AuditSetup, carry, robust_now
from feint.evaluate.state import AuditState

RECORD = "escalation"
Keys = list[tuple[str, int, int | None]]


def gain_limit(setup: AuditSetup, preset: Preset) -> int:
    """Inputs an attack must break at one eps to count as still gaining: ``gain_threshold`` of them, at least one.

    The standard preset's 0.15%: where the second target class broke k inputs, the later classes
    break about 2-4 k more (measured on digits and Fashion-MNIST models), so an audit that stops
    below the limit stays within about half a point of the thorough one.
    """
    return max(1, math.ceil(preset.gain_threshold * setup.x.shape[0]))


def decide(setup: AuditSetup, state: AuditState, preset: Preset, checks: list[Check]) -> dict[str, list[str]]:
    """Reasons to escalate, per eps index (as a string key), given the checks run on the results so
    far; eps with none are left out."""
    flagged = [c for c in checks if c.status != "pass"]
    limit = gain_limit(setup, preset)
    reasons: dict[str, list[str]] = {}
    for e, eps in enumerate(setup.eps):
        if eps == 0 or not bool(robust_now(setup, state, e).any()):
            continue
        why = [f"the check '{c.name}' {'warned' if c.status == 'warn' else 'failed'}" for c in flagged]
        for plan in setup.plans:
            broke = int(state.records.get(f"{plan.key}@{e}", {}).get("broke", 0)) if plan.gauge else 0
            if broke >= limit:
                why.append(
                    f"the targeted attack was still gaining: {plan.key} (its last target class) broke {broke} "
                    "inputs the attacks before it missed"
                )
        if why:
            reasons[str(e)] = why
    return reasons


def escalate(
    setup: AuditSetup, state: AuditState, preset: Preset, run_keys: Callable[[AuditSetup, Keys], None]
) -> tuple[AuditSetup, list[Check] | None]:
    """Run the escalation ladder where :func:`decide` says so. Returns the setup with the rungs that
    ran appended to its plans, and the checks it ran when they still hold (nothing escalated), so
    that the report does not run them again.

    ``run_keys(setup, keys)`` runs the units not yet done, saving the state after each. A rung is
    recorded at every eps (an empty unit where it did not run) so that every report figure is
    defined; the worst case is carried to larger eps afterwards. Under torchrun the checks are rank
    0's (None on the other ranks, which build no report).
    """
    if not preset.escalation:
        return setup, None
    checks = None
    if RECORD not in state.records:
        from feint.evaluate.diagnose import run_checks

        reasons = None
        if fd.is_root():
            checks = run_checks(setup, state, preset)
            reasons = decide(setup, state, preset, checks)
        state.records[RECORD] = {"reasons": fd.broadcast_json(reasons, "deciding where to escalate")}
    if not state.records[RECORD]["reasons"]:
        return setup, checks
    active = {int(e) for e in state.records[RECORD]["reasons"]}
    limit = gain_limit(setup, preset)
    for plan in preset.escalation:
        if not active:
            break
        setup = replace(setup, plans=(*setup.plans, plan))
        idx = len(setup.plans) - 1
        for e in range(len(setup.eps)):
            if e not in active and f"{plan.key}@{e}" not in state.done:
                skip_unit(setup, state, f"{plan.key}@{e}")
        run_keys(setup, [(f"{plan.key}@{e}", idx, e) for e in sorted(active)])
        active = {e for e in active if int(state.records[f"{plan.key}@{e}"]["broke"]) >= limit}
    for e in range(1, len(setup.eps)):
        carry(state, e)
    return setup, None


def skip_unit(setup: AuditSetup, state: AuditState, key: str) -> None:
    """Record a rung that did not run at an eps: an empty pool, no successes."""
    empty = torch.zeros(setup.x.shape[0], dtype=torch.bool, device=setup.x.device)
    state.tensors[f"pool/{key}"] = empty
    state.tensors[f"success/{key}"] = empty.clone()
    state.finish_unit(key, {"queries": 0, "seconds": 0.0, "broke": 0, "skipped": True})


def summary(setup: AuditSetup, state: AuditState, preset: Preset) -> dict[str, Any]:
    """The report's ``escalation`` section: whether, where and why it escalated, and what each rung broke."""
    reasons = state.records.get(RECORD, {}).get("reasons", {})
    eps = list(setup.eps)
    rungs = []
    for plan in preset.escalation:
        ran = {e: r for e in range(len(eps)) if (r := state.records.get(f"{plan.key}@{e}")) and not r.get("skipped")}
        if not ran:
            break
        rungs.append(
            {
                "attack": plan.key,
                "params": dict(plan.params),
                "eps": [eps[e] for e in ran],
                "broke": [int(r["broke"]) for r in ran.values()],
                "seconds": sum(float(r["seconds"]) for r in ran.values()),
            }
        )
    return {
        "escalated": bool(rungs),
        "gain_threshold": preset.gain_threshold,
        "reasons": [
            {"eps": eps[int(e)], "reasons": list(r)} for e, r in sorted(reasons.items(), key=lambda kv: int(kv[0]))
        ],
        "rungs": rungs,
    }
