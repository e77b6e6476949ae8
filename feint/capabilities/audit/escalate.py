"""An audit that adapts: where the evidence says its attacks have not converged, it escalates.

AutoAttack (Croce & Hein 2020) fixes one budget; the checks of Carlini et al. 2019 ("On
Evaluating Adversarial Robustness") only warn. A defensively distilled network (Papernot et al.
2016) shows why warning is not enough: its saturated softmax zeroes the cross-entropy gradient,
the scale-invariant attacks still break most inputs, and a fixed small budget stops short of
what more target classes find. Adversarially trained networks show the other way a fixed budget
falls short: APGD-CE is still finding adversarial points late in its 50 steps, where Croce & Hein
2020 (their Fig. 2 and the restarts of AutoAttack) show robust accuracy still falling with more
iterations and restarts. So after the preset's attacks have run at every eps, the audit decides,
per eps, on three *triggers* (:data:`feint.capabilities.audit.presets.TRIGGERS`):

- ``check``: a gradient-masking check warns (or fails);
- ``gain``: the targeted attack was still gaining when it stopped: the preset's *gain gauge*,
  APGD-T on its last target class (the second runner-up), broke at least ``gain_threshold`` of the
  inputs the attacks before it missed — further target classes are then likely to break more;
- ``late``: the untargeted attack was still gaining when it stopped: the preset's *late gauge*,
  APGD-CE, first broke at least that many inputs in the second half of its iterations (its
  :class:`~feint.attacks.steps.BreakClock`; free: it costs no query) — more iterations and
  restarts are then likely to break more;
- ``bypass``: the gradient attacks went through BPDA (:mod:`feint.capabilities.audit.adaptive`), whose
  gradient is only an approximation of the model's (the identity is a poor one for a JPEG round
  trip); it opens only the rungs that name it (:meth:`Preset.through_bypass`: the score-based
  search on the model's own forward);
- ``search``: decided during the ladder, once that first search has run: at some eps it broke more
  inputs than the gradient attacks through BPDA had there (at least the threshold), so the
  approximation is poor for this model. It fires at every eps, and the rest of the ladder does not
  run there, except the rungs that name the trigger (a second seed of the search, at the smallest eps
  only: :meth:`~feint.capabilities.audit.presets.Preset.through_bypass`);

and runs the preset's escalation ladder on the inputs still robust there. A rung runs at an eps
where the rung that ran before it there still broke at least the threshold, or where a trigger it
``opens_on`` fired (a ``fresh`` rung, a ladder's first, only there; the first rung of a ladder that
names no trigger opens on ``check``, ``gain`` and ``late``). Nothing runs where nothing
fired, so a model the standard budget already measures costs no more. The decision and its
reasons are kept in the resumable state and in the report. Under torchrun rank 0 runs the checks
and decides, and every rank follows its decision (the rungs' units are shared out like any
other). Shapes as in :mod:`feint.capabilities.audit.runner`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from feint import distributed as fd
from feint.capabilities.audit.adaptive import RECORD as ADAPTIVE
from feint.capabilities.audit.checks import Check
from feint.capabilities.audit.presets import BYPASS, LADDER_TRIGGERS, SEARCH_WINS, TRIGGERS, AttackPlan, Preset
from feint.capabilities.audit.runner import AuditSetup, carry, robust_now
from feint.capabilities.audit.state import AuditState
from feint.oracles import Oracle

RECORD = "escalation"
SURROGATE = "surrogate"  # the registry name of the transfer rung's attack (feint.attacks.surrogate)
Keys = list[tuple[str, int, int | None]]


def gain_limit(setup: AuditSetup, preset: Preset) -> int:
    """Inputs an attack must break at one eps to count as still gaining: ``gain_threshold`` of them, at least one.

    The standard preset's 0.15%: where the second target class broke k inputs, the later classes
    break about 2-4 k more (measured on digits and Fashion-MNIST models), so an audit that stops
    below the limit stays within about half a point of the thorough one.
    """
    return max(1, math.ceil(preset.gain_threshold * setup.x.shape[0]))


def decide(
    setup: AuditSetup, state: AuditState, preset: Preset, checks: list[Check]
) -> dict[str, dict[str, list[str]]]:
    """Per eps index (a string key), the triggers that fired there and the reasons, in words, given
    the checks run on the results so far; eps where none fired are left out."""
    flagged = [c for c in checks if c.status != "pass"]
    limit = gain_limit(setup, preset)
    bypassed = ((state.records.get(ADAPTIVE, {}).get("section") or {}).get("gradient") or {}).get("bypassed")
    decided: dict[str, dict[str, list[str]]] = {}
    for e, eps in enumerate(setup.eps):
        if eps == 0 or not bool(robust_now(setup, state, e).any()):
            continue
        fired = {"check": [f"the check '{c.name}' {'warned' if c.status == 'warn' else 'failed'}" for c in flagged]}
        if bypassed:
            fired[BYPASS] = [
                "the gradient attacks went through BPDA ("
                + ", ".join(f"{b['module']!r}: {b['how']}" for b in bypassed)
                + "), an approximation of the model's gradient: the score-based search runs on its own forward"
            ]
        for plan in setup.plans:
            record = state.records.get(f"{plan.key}@{e}", {})
            if plan.gauge == "gain" and int(record.get("broke", 0)) >= limit:
                fired.setdefault("gain", []).append(
                    f"the targeted attack was still gaining: {plan.key} (its last target class) broke "
                    f"{_inputs(record['broke'])} the attacks before it missed"
                )
            if plan.gauge == "late" and int(record.get("late", 0)) >= limit:
                budget = "queries" if plan.kind == "black-box" else "iterations"
                fired.setdefault("late", []).append(
                    f"the untargeted attack was still gaining: {plan.key} broke {_inputs(record['late'])} "
                    f"in the second half of its {budget}"
                )
        fired = {k: v for k, v in fired.items() if v}
        if fired:
            decided[str(e)] = {
                "triggers": sorted(fired),
                "reasons": [why for k in TRIGGERS for why in fired.get(k, [])],
            }
    return decided


def _inputs(n: int) -> str:
    return f"{n} input{'' if n == 1 else 's'}"


def escalate(
    setup: AuditSetup, state: AuditState, preset: Preset, run_keys: Callable[[AuditSetup, Keys], None]
) -> tuple[AuditSetup, list[Check] | None]:
    """Run the escalation ladder where :func:`decide` says so. Returns the setup with the rungs that
    ran appended to its plans, and the checks it ran when they still hold (nothing escalated), so
    that the report does not run them again.

    ``run_keys(setup, keys)`` runs the units not yet done, saving the state after each. A rung that
    ran is recorded at every eps (an empty unit where it did not run) so that every report figure
    is defined; the worst case is carried to larger eps afterwards. Under torchrun the checks are
    rank 0's (None on the other ranks, which build no report).
    """
    if not preset.escalation:
        return setup, None
    checks = None
    if RECORD not in state.records:
        from feint.capabilities.audit.diagnose import run_checks

        decided, spent = None, 0
        if fd.is_root():
            before = setup.model.queries if isinstance(setup.model, Oracle) else 0
            checks = run_checks(setup, state, preset)
            decided = decide(setup, state, preset, checks)
            spent = setup.model.queries - before if isinstance(setup.model, Oracle) else 0
        # The checks' queries to a query-only model are kept, so that a resumed audit reports them too.
        state.records[RECORD] = fd.broadcast_json({"decided": decided, "queries": spent}, "deciding where to escalate")
    decided = state.records[RECORD]["decided"]
    if not decided:
        return setup, checks
    fired = {int(e): set(d["triggers"]) for e, d in decided.items()}
    limit = gain_limit(setup, preset)
    alive: set[int] = set()
    for i, plan in enumerate(preset.escalation):
        # a ladder's first rung that names no trigger (a user's preset) opens on the preset's own
        opens_on = plan.opens_on or (LADDER_TRIGGERS if i == 0 else ())
        opened = {e for e, triggers in fired.items() if triggers & set(opens_on)}
        active = opened if plan.fresh else alive | opened
        # where the search beat BPDA, only the searches run (the first, on a resumed audit, too)
        if not {SEARCH_WINS, BYPASS} & set(plan.opens_on):
            active -= {e for e, triggers in fired.items() if SEARCH_WINS in triggers}
        if plan.smallest_eps and active:
            active = {min(active, key=lambda e: setup.eps[e])}
        if not active:
            continue
        if plan.name == SURROGATE:
            setup = with_surrogate(setup, state, [f"{plan.key}@{e}" for e in active])
            if setup.surrogate is None and not isinstance(setup.model, torch.nn.Module):
                # no surrogate (all its units done on a resumed audit, or the query budget could not pay
                # for one): only its finished units count
                active = {e for e in active if f"{plan.key}@{e}" in state.done}
        setup = replace(setup, plans=(*setup.plans, plan))
        idx = len(setup.plans) - 1
        for e in range(len(setup.eps)):
            if e not in active and f"{plan.key}@{e}" not in state.done:
                skip_unit(setup, state, f"{plan.key}@{e}")
        run_keys(setup, [(f"{plan.key}@{e}", idx, e) for e in sorted(active)])
        # A rung with a late gauge (a query search) is still gaining where it broke enough inputs in the
        # second half of its budget; any other where it broke enough at all.
        count = "late" if plan.gauge == "late" else "broke"
        alive = {e for e in active if int(state.records[f"{plan.key}@{e}"].get(count, 0)) >= limit}
        if BYPASS in plan.opens_on:
            search_wins(setup, state, plan, fired, limit)
    for e in range(1, len(setup.eps)):
        carry(state, e)
    return setup, None


def search_wins(
    setup: AuditSetup, state: AuditState, search: AttackPlan, fired: dict[int, set[str]], limit: int
) -> None:
    """Fire the ``search`` trigger at every eps with inputs still robust where ``search`` (the first
    score-based search on a bypassed model's own forward) broke, at some eps, at least ``limit`` inputs
    and more than the gradient attacks through BPDA had there; record the reason in the decision."""
    decided = state.records[RECORD]["decided"]
    wins = []
    for e in range(len(setup.eps)):
        found = int(state.records.get(f"{search.key}@{e}", {}).get("broke", 0))
        through = sum(
            int(state.records.get(f"{p.key}@{e}", {}).get("broke", 0)) for p in setup.plans if p.iterative_white_box
        )
        if found >= limit and found > through:
            wins.append(
                f"eps {setup.eps[e]:g}: {search.key} broke {_inputs(found)}, the gradient attacks through BPDA {through}"
            )
    if not wins:
        return
    why = (
        "the score-based search beat the gradient attacks through BPDA ("
        + "; ".join(wins)
        + "): the approximation is poor for this model, so the rest of the ladder does not run"
    )
    for e in range(len(setup.eps)):
        if setup.eps[e] == 0 or not bool(robust_now(setup, state, e).any()):
            continue
        fired.setdefault(e, set()).add(SEARCH_WINS)
        entry = decided.setdefault(str(e), {"triggers": [], "reasons": []})
        if SEARCH_WINS not in entry["triggers"]:
            entry["triggers"] = sorted([*entry["triggers"], SEARCH_WINS])
            entry["reasons"] = [*entry["reasons"], why]


def with_surrogate(setup: AuditSetup, state: AuditState, keys: list[str]) -> AuditSetup:
    """The setup with the transfer rung's surrogate: the user's, else one fitted on the model's answers
    (only when a unit of ``keys`` still has to run; seeded, so a resumed audit fits the same one)."""
    from feint.capabilities.audit.surrogate import RECORD as FITTED
    from feint.capabilities.audit.surrogate import fit_surrogate, user_record

    if setup.surrogate is not None:
        state.records.setdefault(FITTED, user_record(setup.surrogate))
        return setup
    if not isinstance(setup.model, Oracle) or all(k in state.done for k in keys):
        return setup
    surrogate, record = fit_surrogate(setup)
    if FITTED in state.records:  # a resumed audit refits: its queries add to the first fit's
        record["queries"] += int(state.records[FITTED]["queries"])
    state.records[FITTED] = record
    return replace(setup, surrogate=surrogate)


def skip_unit(setup: AuditSetup, state: AuditState, key: str) -> None:
    """Record a rung that did not run at an eps: an empty pool, no successes."""
    empty = torch.zeros(setup.x.shape[0], dtype=torch.bool, device=setup.x.device)
    state.tensors[f"pool/{key}"] = empty
    state.tensors[f"success/{key}"] = empty.clone()
    state.finish_unit(key, {"queries": 0, "seconds": 0.0, "broke": 0, "skipped": True})


def summary(setup: AuditSetup, state: AuditState, preset: Preset) -> dict[str, Any]:
    """The report's ``escalation`` section: whether, where and why it escalated, and what each rung broke."""
    decided = state.records.get(RECORD, {}).get("decided", {})
    eps = list(setup.eps)
    rungs = []
    for plan in preset.escalation:
        ran = {e: r for e in range(len(eps)) if (r := state.records.get(f"{plan.key}@{e}")) and not r.get("skipped")}
        if not ran:
            continue
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
            {"eps": eps[int(e)], "triggers": list(d["triggers"]), "reasons": list(d["reasons"])}
            for e, d in sorted(decided.items(), key=lambda kv: int(kv[0]))
        ],
        "rungs": rungs,
    }
