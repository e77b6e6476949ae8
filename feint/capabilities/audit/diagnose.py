"""Assembling the gradient-masking checks of :mod:`feint.capabilities.audit.checks` from an audit's results.

Each comparison is per input and per eps: FGSM and random noise run on every input, so an input
they fool that every iterative white-box attack left robust is direct evidence against those
attacks; the black-box attack runs last, so whatever it fools was missed by every white-box one.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from feint.capabilities.audit import checks as ck
from feint.capabilities.audit.presets import NOISE, AttackPlan, Preset
from feint.capabilities.audit.report import attack_accuracy, fresh_breaks, unit_masks, worst_case_robust
from feint.capabilities.audit.runner import AuditSetup, attack_params, unit_seed
from feint.capabilities.audit.state import AuditState
from feint.oracles import Oracle

GRADIENT_SAMPLES = 512


def _huge_eps(setup: AuditSetup) -> float:
    """A radius that covers the whole input box: the box width in Linf, its diagonal in L2."""
    width = setup.bounds[1] - setup.bounds[0]
    return width if setup.norm == "inf" else width * math.sqrt(setup.x[0].numel())


# Confirms a minimum-norm attack's misses at a size beyond the box (a plain PGD, whatever the preset).
BOX_ATTACK = AttackPlan("pgd", "white-box", {"steps": 50})


def unbounded(setup: AuditSetup, state: AuditState, preset: Preset) -> ck.Check:
    """Success of the minimum-norm attack, else of ``preset.unbounded``, at a size beyond the box.

    A minimum-norm attack with a fixed step budget (FMN-40) can stop short on a model that is merely
    robust: its misses are inputs it did not reach in time, not inputs no perturbation reaches. So
    where it missed more than the check tolerates, those inputs are attacked once more with an eps that
    covers the whole input box (:data:`BOX_ATTACK`); only what that also misses counts against the
    model (Carlini et al. 2019, sec. 5: "unbounded attacks must reach 100% success").
    """
    total = int(setup.clean_correct.sum())
    minimum = next((p for p in setup.plans if p.minimum_norm), None)
    if minimum is not None:
        distance = state.tensors[f"minnorm/{minimum.key}/distance"]
        missed = (setup.clean_correct & ~torch.isfinite(distance)).nonzero().squeeze(1)
        found = total - int(missed.numel())
        if missed.numel() <= ck.tolerance(total):
            return ck.check_unbounded(found, total, minimum.key)
        rows = missed[: max(preset.unbounded_samples, GRADIENT_SAMPLES)]
        box = preset.unbounded or BOX_ATTACK
        res, eps = _box_attack(setup, box, rows)
        confirmed = int(missed.numel()) - int(rows.numel()) + int((~res.success).sum())
        label = f"{minimum.key} (then {box.name} at eps={eps:g}, the whole box, on the {rows.numel()} inputs it missed)"
        return ck.check_unbounded(total - confirmed, total, label)
    if preset.unbounded is None:
        return ck.Check("an unbounded attack reaches 100%", "pass", "no unbounded attack in this preset")
    plan = preset.unbounded
    rows = setup.clean_correct.nonzero().squeeze(1)[: preset.unbounded_samples]
    if rows.numel() == 0:
        return ck.check_unbounded(0, 0, plan.name)
    res, eps = _box_attack(setup, plan, rows)
    return ck.check_unbounded(int(res.success.sum()), int(rows.numel()), f"{plan.name} (eps={eps:g})")


def _box_attack(setup: AuditSetup, plan: AttackPlan, rows: Tensor) -> tuple[Any, float]:
    """``plan`` on ``rows`` with an eps that covers the whole input box; (its result, that eps)."""
    from feint.attacks.registry import run_attack

    seed = unit_seed(setup.seed, len(setup.plans), None, 0)
    params = attack_params(plan, eps=_huge_eps(setup), norm=setup.norm, bounds=setup.bounds, seed=seed)
    res = run_attack(plan.name, setup.model, setup.x[rows], setup.y[rows], **params)
    return res, float(params.get("eps", _huge_eps(setup)))


def query_only_checks(setup: AuditSetup, state: AuditState) -> list[ck.Check]:
    """A query-only model: say that white-box attacks could not run; monotonicity and determinism still apply."""
    curves = {"worst-case": [float(r.float().mean()) for r in worst_case_robust(setup, state)]}
    assert isinstance(setup.model, Oracle)
    rows = int(min(GRADIENT_SAMPLES, setup.x.shape[0], setup.model.remaining // 2))  # within a query budget
    determinism = (
        ck.check_deterministic(setup.model, setup.x[:rows])
        if rows > 0
        else ck.Check("outputs are deterministic", "warn", "not checked: the query budget was spent")
    )
    return [
        ck.check_query_only(setup.access),
        ck.check_monotone(curves, list(setup.eps), setup.x.shape[0]),
        determinism,
    ]


def run_checks(setup: AuditSetup, state: AuditState, preset: Preset) -> list[ck.Check]:
    if setup.access != "white-box":
        return query_only_checks(setup, state)
    eps = list(setup.eps)
    n_correct = int(setup.clean_correct.sum())
    out: list[ck.Check] = []
    fgsm = [i for i, p in enumerate(setup.plans) if p.standalone and p.name != NOISE]
    if fgsm and any(p.iterative_white_box for p in setup.plans):
        out.append(ck.check_single_step(fresh_breaks(setup, state, fgsm[0]), eps, n_correct))
    curves = {"worst-case": [float(r.float().mean()) for r in worst_case_robust(setup, state)]}
    curves.update({setup.plans[i].key: attack_accuracy(setup, state, i) for i in fgsm})
    out.append(ck.check_monotone(curves, eps, setup.x.shape[0]))
    out.append(unbounded(setup, state, preset))
    for plan in setup.plans:
        if plan.kind == "black-box" and plan.name != NOISE and not plan.standalone:
            extra = [int(unit_masks(state, plan.key, e)[1].sum()) for e in range(len(eps))]
            out.append(ck.check_black_box(extra, eps, n_correct, plan.key))
    noise = next(i for i, p in enumerate(setup.plans) if p.name == NOISE)
    out.append(ck.check_noise(fresh_breaks(setup, state, noise), eps, n_correct))
    rows = setup.clean_correct.nonzero().squeeze(1)[:GRADIENT_SAMPLES]
    assert isinstance(setup.model, nn.Module)
    if rows.numel() > 0:
        out.append(ck.check_gradients(setup.model, setup.x[rows], setup.y[rows], batch_size=setup.batch_size))
    out.append(_determinism(setup))
    return out


def _determinism(setup: AuditSetup) -> ck.Check:
    """The determinism check; on a model the audit already averages over draws (EOT, see
    :mod:`feint.capabilities.audit.adaptive`) it passes, saying so: the randomness is handled, not hidden."""
    from feint.attacks.eot import ExpectationOverDraws

    if isinstance(setup.model, ExpectationOverDraws):
        return ck.Check(
            "outputs are deterministic",
            "pass",
            f"the model is randomized: the attacks averaged {setup.model.draws} draws (EOT) and the robust "
            "accuracies are evaluated over seeded redraws (see the adaptive section)",
        )
    return ck.check_deterministic(setup.model, setup.x[:GRADIENT_SAMPLES], batch_size=setup.batch_size)
