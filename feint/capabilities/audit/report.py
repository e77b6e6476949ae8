"""Turning an audit's state into the ``feint.audit/1`` report dict and its image gallery.

The per-attack ``accuracy`` of a sequential attack is AutoAttack's running figure (Croce & Hein
2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
attacks"): the accuracy left after it and the attacks before it in the sequence (an input they
broke at a smaller eps counts as broken; one broken at a smaller eps only by a later attack
counts as robust, since they never ran on it again). A minimum-norm attack answers every eps for
every input from its one run, so whatever it breaks at an eps counts there, even inputs a later
attack broke first at a smaller eps. A standalone attack's (FGSM's) is its accuracy on its own,
on every input. The worst case is the per-input minimum over all of them,
so it never exceeds any attack's accuracy.
Shapes: x (N, C, H, W), y (N,), state tensors (E, N, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from feint.capabilities.audit.presets import NOISE
from feint.capabilities.audit.runner import AuditSetup, within_eps
from feint.capabilities.audit.state import AuditState
from feint.measure.metrics import (
    confusion_matrix,
    goodfellow_row,
    outcome_counts,
    per_class_accuracy,
    size_summary,
)
from feint.report.gallery import GalleryItem, make_items, pick_fooled

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _mean(mask: Tensor) -> float:
    return float(mask.float().mean())


def unit_masks(state: AuditState, name: str, e: int) -> tuple[Tensor, Tensor]:
    """(pool, success) of the unit ``name`` at eps index ``e``."""
    return state.tensors[f"pool/{name}@{e}"], state.tensors[f"success/{name}@{e}"]


def attack_accuracy(setup: AuditSetup, state: AuditState, plan_idx: int) -> list[float]:
    plan = setup.plans[plan_idx]
    if plan.standalone:
        return [float(state.records[f"{plan.key}@{e}"]["accuracy"]) for e in range(len(setup.eps))]
    prefix = [i for i, p in enumerate(setup.plans[: plan_idx + 1]) if not p.standalone]
    by_prefix = torch.isin(state.broken_by, torch.tensor(prefix, device=state.broken_by.device))
    accuracy = []
    for e in range(len(setup.eps)):
        broken = by_prefix[e]
        for i in prefix:
            if setup.plans[i].minimum_norm:
                broken = broken | min_norm_broken(setup, state, setup.plans[i].key, e)
        accuracy.append(_mean(setup.clean_correct & ~broken))
    return accuracy


def min_norm_broken(setup: AuditSetup, state: AuditState, name: str, e: int) -> Tensor:
    """(N,) inputs the minimum-norm attack ``name`` breaks at eps index ``e``: its re-checked verdict
    where it ran there, its perturbation size elsewhere."""
    pool, success = unit_masks(state, name, e)
    within = within_eps(state.tensors[f"minnorm/{name}/distance"], setup.eps[e])
    return torch.where(pool, success, within & setup.clean_correct)


def worst_case_robust(setup: AuditSetup, state: AuditState) -> Tensor:
    """(E, N) bool: clean-correct and broken by nothing at that eps."""
    return setup.clean_correct[None] & (state.broken_by < 0)


def robust_to_white_box(setup: AuditSetup, state: AuditState, e: int) -> Tensor:
    """(N,) inputs that every sequential white-box attack left robust at eps index ``e``."""
    robust = setup.clean_correct & ~state.carried[e]
    for plan in setup.plans:
        if plan.iterative_white_box:
            robust = robust & ~unit_masks(state, plan.key, e)[1]
    return robust


def fresh_breaks(setup: AuditSetup, state: AuditState, plan_idx: int) -> list[int]:
    """Per eps, the inputs ``plan_idx`` fooled that the white-box sequential attacks left robust."""
    name = setup.plans[plan_idx].key
    return [
        int((unit_masks(state, name, e)[1] & robust_to_white_box(setup, state, e)).sum()) for e in range(len(setup.eps))
    ]


def min_norm_summary(setup: AuditSetup, state: AuditState) -> dict[str, Any] | None:
    plan = next((p for p in setup.plans if p.minimum_norm), None)
    if plan is None:
        return None
    d = state.tensors[f"minnorm/{plan.key}/distance"][setup.clean_correct].double()
    if d.numel() == 0:
        return {"attack": plan.key, "norm": setup.norm, "median": None, "distances_quantiles": {}}
    q = torch.tensor(QUANTILES, dtype=d.dtype, device=d.device)
    values = [float(v) for v in d.nan_to_num(posinf=float("inf")).quantile(q)]
    quantiles = {str(k): (v if v != float("inf") else None) for k, v in zip(QUANTILES, values, strict=True)}
    return {"attack": plan.key, "norm": setup.norm, "median": quantiles["0.5"], "distances_quantiles": quantiles}


def adversarial_logits(setup: AuditSetup, state: AuditState) -> list[Tensor]:
    """Logits on the worst-case point per eps (the clean input's where nothing broke it)."""
    broken = (state.broken_by >= 0).unsqueeze(-1)
    return [torch.where(broken[e], state.worst_logits[e], setup.clean_logits) for e in range(len(setup.eps))]


def build_sections(
    setup: AuditSetup, state: AuditState, adv_logits: list[Tensor], class_names: list[str]
) -> dict[str, Any]:
    """The measured part of the report: accuracies, worst case, tables, sizes, outcomes."""
    eps, k = list(setup.eps), len(class_names)
    attacks = {
        p.key: {
            "kind": p.kind,
            "accuracy": attack_accuracy(setup, state, i),
            "queries": sum(int(r["queries"]) for key, r in state.records.items() if key.split("@")[0] == p.key),
            "seconds": sum(float(r["seconds"]) for key, r in state.records.items() if key.split("@")[0] == p.key),
        }
        for i, p in enumerate(setup.plans)
        if p.name != NOISE
    }
    noise_idx = next(i for i, p in enumerate(setup.plans) if p.name == NOISE)
    robust = worst_case_robust(setup, state)
    fresh = (state.broken_by >= 0) & ~state.carried
    breaking = {p.key: int((fresh & (state.broken_by == i)).sum()) for i, p in enumerate(setup.plans)}
    goodfellow = [
        {"eps": eps[e], "attack": p.key, "error_rate": r[0], "mean_confidence_misclassified": r[1]}
        for p in setup.plans
        if p.standalone and p.name != NOISE
        for e in range(len(eps))
        for r in [state.records[f"{p.key}@{e}"]["goodfellow"]]
    ]
    goodfellow += [
        dict(zip(("error_rate", "mean_confidence_misclassified"), goodfellow_row(adv_logits[e], setup.y), strict=True))
        | {"eps": eps[e], "attack": "worst case"}
        for e in range(len(eps))
    ]
    if setup.access == "labels":  # a label-only model never revealed a confidence
        goodfellow = [{**row, "mean_confidence_misclassified": None} for row in goodfellow]
    clean_pred = setup.clean_logits.argmax(1)
    confusion = confusion_matrix(clean_pred, setup.y, k)
    return {
        "clean_accuracy": _mean(setup.clean_correct),
        "eps": eps,
        "attacks": attacks,
        "baselines": {"noise": {"accuracy": attack_accuracy(setup, state, noise_idx)}},
        "worst_case": {"accuracy": [_mean(r) for r in robust], "attack_breaking": breaking},
        "goodfellow": goodfellow,
        "per_class": {
            "class_names": class_names,
            "clean": per_class_accuracy(setup.clean_correct, setup.y, k),
            "robust": [per_class_accuracy(r, setup.y, k) for r in robust],
        },
        "perturbation_sizes": [
            {"eps": eps[e], **size_summary(state.worst_sizes[e][state.broken_by[e] >= 0])} for e in range(len(eps))
        ],
        "min_norm": min_norm_summary(setup, state),
        "outcomes": [
            {"eps": eps[e], **outcome_counts(setup.clean_logits, adv_logits[e], setup.y, confusion)}
            for e in range(len(eps))
        ],
    }


def pick_gallery(
    setup: AuditSetup, state: AuditState, adv_logits: list[Tensor], class_names: list[str], *, per_kind: int = 4
) -> list[GalleryItem]:
    """Typical and most confident fooled inputs at a middle eps, and the inputs fooled at the smallest one."""
    nonzero = [e for e, v in enumerate(setup.eps) if v > 0 and bool((state.broken_by[e] >= 0).any())]
    if not nonzero:
        return []
    items: list[GalleryItem] = []
    for e, typical, worst in ((nonzero[len(nonzero) // 2], per_kind, per_kind), (nonzero[0], 0, 2)):
        for i, plan in enumerate(setup.plans):
            rows = (state.broken_by[e] == i).nonzero().squeeze(1)
            picks = pick_fooled(
                setup.y[rows], setup.clean_logits[rows], adv_logits[e][rows], n_typical=typical, n_worst=worst
            )
            if not picks:
                continue
            chosen = rows[[j for _, j in picks]]
            items += make_items(
                [kind for kind, _ in picks],
                setup.x[chosen],
                state.worst_points(e, chosen).to(setup.x.device),
                setup.y[chosen],
                setup.clean_logits[chosen],
                adv_logits[e][chosen],
                class_names=class_names,
                attack=plan.key,
                eps=setup.eps[e],
                bounds=setup.bounds,
            )
    if setup.access == "labels":  # a label-only model never revealed a confidence
        items = [dataclasses.replace(g, clean_conf=None, adv_conf=None) for g in items]
    worst_items = sorted((g for g in items if g.kind == "worst"), key=lambda g: -(g.adv_conf or 0.0))
    typical_items = [g for g in items if g.kind == "typical"]
    return worst_items[: per_kind + 2] + typical_items[:per_kind]
