"""``feint.transfer``: do adversarial examples crafted on one model fool another?

Szegedy et al. 2014 ("Intriguing properties of neural networks") found that adversarial examples
transfer between architectures; Kurakin, Goodfellow & Bengio 2017 ("Adversarial Machine Learning
at Scale") that one FGSM step transfers better than many iterations. This measures both as the
tutorial figure does: examples crafted white-box on ``source`` with an iterative attack of T steps
of eta = eps / T (``ifgsm``; T = 1 is FGSM), for every T and eps, sent to the ``target`` through a
label-only oracle; beside them the source's own (white-box) accuracy and random sign noise of the
same size. With ``targeted`` the attack aims at random wrong classes and the report adds how often
each model predicts the target class. Every iterative attack runs all its T steps (no early
stopping: stopping at the first success on the source hurts transfer). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.registry import full_strength, get_attack, run_attack
from feint.attacks.result import predict_logits
from feint.attacks.targets import random_targets
from feint.capabilities.transfer.pair_page import render_html
from feint.capabilities.transfer.pair_report import REPORT_SCHEMA, SCHEMA, summary
from feint.data.dataset import Dataset, DatasetInfo
from feint.data.inputs import unpack
from feint.devices import place
from feint.errors import InputError
from feint.io import prepare_out
from feint.measure.baselines import random_perturbation
from feint.measure.defaults import default_eps
from feint.oracles.base import Oracle
from feint.progress import bar
from feint.report.files import json_safe
from feint.report.gallery import label_gallery_items
from feint.report.provenance import model_info, stamp
from feint.report.report import Report
from feint.report.schema import validate
from feint.validation import check_images, check_labels, check_nonnegative, check_positive_int, model_logits


def _mean(mask: Tensor) -> float:
    return float(mask.float().mean())


def _check(source: nn.Module, target: Oracle, x: Tensor, y: Tensor, info: DatasetInfo) -> None:
    if not isinstance(target, Oracle):
        raise InputError(
            f"the target of a transfer attack is queried for labels only, got {type(target).__name__}; wrap it with "
            "feint.oracles.as_oracle(model, access='labels')"
        )
    check_images(x, bounds=info.bounds)
    classes = model_logits(source, x).shape[1]
    if target.num_classes is not None and target.num_classes != classes:
        raise InputError(
            f"the source predicts {classes} classes but the target {target.num_classes}; both must solve the same task"
        )
    if target.input_shape is not None and tuple(x.shape[1:]) != target.input_shape:
        raise InputError(f"the target takes inputs of shape {target.input_shape}, the data has {tuple(x.shape[1:])}")
    check_labels(y, n=x.shape[0], num_classes=classes)


MAX_STEPS = 10_000


def transfer(
    source: nn.Module,
    target: Oracle,
    x: Tensor | Dataset,
    y: Tensor | None = None,
    *,
    attack: str = "ifgsm",
    steps: Sequence[int] = (1, 2, 5, 10),
    eps: Sequence[float] | None = None,
    targeted: bool = False,
    params: dict[str, Any] | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    source_name: str | None = None,
    target_name: str | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Report:
    """Craft on ``source`` (white-box) with ``attack`` for every T in ``steps`` and every eps, measure
    on ``target`` (an oracle); returns the ``feint.transfer/1`` :class:`~feint.report.Report`
    (saved to ``out`` when given).

    ``x`` is a :class:`~feint.data.dataset.Dataset` (then no ``y``) or a tensor with labels ``y``.
    ``eps`` defaults to the dataset's Linf grid without 0 (:func:`feint.measure.defaults.default_eps`,
    as ``feint transfer``; plain tensors without ``data_info`` get a grid relative to the bounds).
    ``device`` (default: where the inputs are) moves the inputs and the source (in place) there."""
    started = time.perf_counter()
    x, y, data_info, split = unpack(x, y, data_info, split)
    source, x, y = place(device, source), place(device, x), place(device, y)
    k = int(y.max()) + 1 if isinstance(y, Tensor) and y.numel() else 2
    info = data_info or DatasetInfo("data", tuple(str(i) for i in range(k)), tuple(x.shape[1:]))  # type: ignore[arg-type]
    _check(source, target, x, y, info)
    if out is not None:
        prepare_out(out)
    spec = get_attack(attack)
    if eps is None:
        eps = [e for e in default_eps(data_info.name if data_info else None, "inf", bounds=info.bounds) if e > 0]
    if not steps or not eps:
        raise InputError("give at least one step count and one eps")
    for t in steps:
        check_positive_int(t, "every step count")
        if t > MAX_STEPS:
            raise InputError(
                f"every step count (--steps) must be at most {MAX_STEPS:,} (each step is eps / T; more steps do "
                f"not change the result and take hours), got {t:,}"
            )
    taken = sorted({"steps", "eps", "targeted", "target"} & set(params or {}))
    if taken:
        raise InputError(
            f"--param {', '.join(taken)}: set by transfer itself (--steps, --eps, --targeted); drop the --param"
        )
    steps = sorted(set(steps))
    if "steps" not in spec.parameters() and steps != [1]:
        raise InputError(f"attack {attack!r} takes no step count; use ifgsm, bim, mifgsm or pgd, or --steps 1")
    options = full_strength(spec, dict(params or {}))
    if "bounds" in spec.parameters():
        options.setdefault("bounds", info.bounds)
    grid = sorted({float(e) for e in eps})
    for e in grid:
        check_nonnegative(e, "every eps")
    goal = random_targets(y, info.num_classes, seed=seed) if targeted else None
    if goal is not None:
        options |= {"targeted": True, "target": goal}
    counted_at_start = target.queries
    clean_source = predict_logits(source, x).argmax(1)
    clean_target = target.labels(x).to(x.device)
    with bar(progress, total=len(steps) * len(grid), desc="transfer") as shown:
        curves = [_curve(source, target, x, y, goal, attack, t, grid, options, shown) for t in steps]
    noise: dict[str, list[float]] = {"source_accuracy": [], "target_accuracy": []}
    for e in grid:
        noisy = random_perturbation(x, eps=e, norm=options.get("norm", "inf"), bounds=info.bounds, seed=seed)
        noise["source_accuracy"].append(_mean(predict_logits(source, noisy).argmax(1) == y))
        noise["target_accuracy"].append(_mean(target.labels(noisy).to(x.device) == y))
    settings = {
        "attack": attack,
        "steps": steps,
        "eps": grid,
        "targeted": targeted,
        "params": _plain(options),
        "seed": seed,
    }
    report = json_safe(
        {
            **stamp(SCHEMA),
            "source": model_info(source, source_name),
            "target": {"name": target_name or target.name, "access": target.access},
            "data": {**info.to_dict(), "n": int(x.shape[0]), "split": split},
            "settings": settings,
            "clean": {"source_accuracy": _mean(clean_source == y), "target_accuracy": _mean(clean_target == y)},
            "eps": grid,
            "curves": [{k: v for k, v in c.items() if k not in ("x_adv", "labels")} for c in curves],
            "noise": noise,
            "queries": {"target": target.queries - counted_at_start},  # the target's own counter
            "timings": {"total_seconds": time.perf_counter() - started},
        }
    )
    problems = validate(report, REPORT_SCHEMA)
    if problems:  # a bug in feint, never the user's input
        raise AssertionError(f"the transfer report does not match {SCHEMA}: {problems[:3]}")
    first = curves[0]["x_adv"], curves[0]["labels"]
    gallery = label_gallery_items(
        x, first[0], y, clean_target, first[1], class_names=info.class_names,
        attack=f"{attack} T={steps[0]} on the source", eps=grid[-1], bounds=info.bounds,
    )  # fmt: skip
    made = Report(report, lambda r: render_html(r, gallery), summary)
    return made.save(out) if out is not None else made


def _curve(
    source: nn.Module,
    target: Oracle,
    x: Tensor,
    y: Tensor,
    goal: Tensor | None,
    attack: str,
    steps: int,
    grid: list[float],
    options: dict[str, Any],
    shown: Any,
) -> dict[str, Any]:
    """One step count: per eps, the source's (white-box) and the target's accuracy, and with a
    ``goal`` how often each predicts it; ``x_adv``/``labels`` keep the largest eps for the gallery."""
    step_option = {"steps": steps} if "steps" in get_attack(attack).parameters() else {}
    curve: dict[str, Any] = {"steps": steps, "source_accuracy": [], "target_accuracy": []}
    curve |= {"source_target_success": [] if goal is not None else None}
    curve |= {"target_target_success": [] if goal is not None else None}
    for e in grid:
        result = run_attack(attack, source, x, y, eps=e, **step_option, **options)
        labels = target.labels(result.x_adv).to(x.device)
        curve["source_accuracy"].append(result.accuracy)
        curve["target_accuracy"].append(_mean(labels == y))
        if goal is not None:
            curve["source_target_success"].append(result.success_rate)
            curve["target_target_success"].append(_mean(labels == goal))
        curve |= {"x_adv": result.x_adv, "labels": labels}
        shown.update(1)
    return curve


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """Attack options for the report: the target labels themselves are left out."""
    return {k: v for k, v in options.items() if k not in ("target", "targeted")}
