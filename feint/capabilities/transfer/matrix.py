"""``feint.transfer_matrix``: cross-technique and intra-technique transferability.

Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: from Phenomena to
Black-Box Attacks using Adversarial Samples", sec. 4: the training data is split into two
disjoint halves A and B; every technique (:mod:`feint.capabilities.transfer.techniques`) is trained on each.
The models trained on A are the sources and craft adversarial versions of held-out test inputs
with a method that fits them (:mod:`feint.capabilities.transfer.crafting`), all under one Linf eps. The
targets answer labels only. Two matrices of misclassification rates, sources x targets:

- *same data*: targets are the A models, so the diagonal is the white-box rate of each source;
- *disjoint halves*: targets are the B models, so the diagonal is intra-technique transfer (same
  technique, other training data) and the rest cross-technique transfer.

A rate counts every held-out input the target misclassifies (its clean error is reported beside).
Shapes: train/test datasets NCHW in their bounds.

The held-out inputs are crafted and labelled in batches of ``batch_size``. Under torchrun batch
``c`` runs on rank ``c % K`` and the per-input labels are gathered; fitting the twelve models (and
the substitutes of kNN and the ensemble) is not per input: every rank fits the same ones from the
same seeds, which is checked, so K ranks measure exactly what one process measures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint import distributed as fd
from feint.capabilities.transfer.crafting import Crafted, Source, source
from feint.capabilities.transfer.matrix_page import render_html
from feint.capabilities.transfer.matrix_report import REPORT_SCHEMA, SCHEMA, summary
from feint.capabilities.transfer.techniques import (
    TECHNIQUES,
    TechniqueSettings,
    fit_techniques,
    parse_techniques,
    technique_oracle,
)
from feint.data.dataset import Dataset
from feint.devices import place
from feint.errors import InputError
from feint.io import check_writable
from feint.measure.metrics import perturbation_stats
from feint.oracles.base import Oracle
from feint.progress import milestone
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.report import Report
from feint.report.schema import validate
from feint.validation import check_nonnegative, check_positive_int

DEFAULT_EPS = 0.3  # Papernot, McDaniel & Goodfellow (2016)'s MNIST radius


def split_halves(data: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    """Two disjoint, class-stratified halves of ``data`` (seeded)."""
    from sklearn.model_selection import train_test_split

    labels = data.y.cpu().numpy()
    if len(labels) < 4:
        raise InputError(f"{len(labels)} training inputs cannot be split into two halves to train on; pass more data")
    idx = torch.arange(len(labels)).numpy()
    try:
        a, b = train_test_split(idx, test_size=0.5, random_state=seed, stratify=labels)
    except ValueError:  # a class too small to stratify
        a, b = train_test_split(idx, test_size=0.5, random_state=seed)
    pick = [torch.as_tensor(sorted(p)) for p in (a, b)]
    return replace(data, x=data.x[pick[0]], y=data.y[pick[0]]), replace(data, x=data.x[pick[1]], y=data.y[pick[1]])


def _wrong(oracles: dict[str, Oracle], x: Tensor, y: Tensor) -> Tensor:
    """(N, T) bool: each target misclassifies each input."""
    return torch.stack([oracles[t].labels(x).to(y.device) != y for t in oracles], dim=1)


def _rates(wrong: Tensor) -> list[float]:
    return [float(wrong[:, t].float().mean()) for t in range(wrong.shape[1])]


def _oracles(models: dict[str, Any], data: Dataset, half: str) -> dict[str, Oracle]:
    info = data.info
    return {
        t: technique_oracle(m, input_shape=info.input_shape, num_classes=info.num_classes, name=f"{t} ({half})")
        for t, m in models.items()
    }


def _sizes(x: Tensor, c: Crafted) -> dict[str, Any]:
    changed = (c.x_adv - x).flatten(1).abs().amax(1) > 0
    return {"changed": int(changed.sum()), **perturbation_stats(x, c.x_adv, changed)}


def transfer_matrix(
    train: Dataset,
    test: Dataset,
    *,
    techniques: Sequence[str] | str = TECHNIQUES,
    eps: float = DEFAULT_EPS,
    settings: TechniqueSettings | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    batch_size: int = 256,
) -> Report:
    """Train every technique on two disjoint halves of ``train``, craft on the first half's models,
    measure on both halves' models; returns the ``feint.transfer-matrix/1``
    :class:`~feint.report.Report` (saved to ``out`` when given).

    ``settings`` sets the models (default :class:`~feint.capabilities.transfer.techniques.TechniqueSettings`,
    seeded by ``seed``, as ``feint transfer --matrix``); a ``settings`` of your own carries its own seed,
    which splits the halves and trains every model. ``device`` (default: where ``train`` is) moves both datasets there.
    Under torchrun (noticed) every rank calls it alike, rank 0 alone writes ``out`` and every rank
    returns the same report."""
    started = time.perf_counter()
    names = parse_techniques(list(techniques) if not isinstance(techniques, str) else techniques)
    check_nonnegative(eps, "eps")
    settings = settings or TechniqueSettings(seed=seed)
    if device is not None:
        train = replace(train, x=place(device, train.x), y=place(device, train.y))
        test = replace(test, x=place(device, test.x), y=place(device, test.y))
    check_positive_int(batch_size, "batch_size (--batch-size)")
    fd.join(None, train.x.device)
    if out is not None and fd.is_root():
        check_writable(out, folder=True)
    if train.info.input_shape != test.info.input_shape or train.info.num_classes != test.info.num_classes:
        raise InputError("the training and test data must come from the same dataset (same input shape and classes)")
    progress = progress and fd.is_root()
    fd.check_job([names, float(eps), asdict(settings), batch_size], [train.x, train.y, test.x, test.y],
                 n_inputs=len(test), what="held-out inputs")  # fmt: skip
    half_a, half_b = split_halves(train, settings.seed)
    milestone(progress, f"matrix: training {len(names)} techniques on two halves of {len(train)} inputs")
    with fd.alone():  # not per input: every rank fits the same models
        models_a = fit_techniques(names, half_a, settings=settings)
        models_b = fit_techniques(names, half_b, settings=settings)
        sources = {s: source(s, models_a[s], train_data=half_a, settings=settings) for s in names}
    x, y = test.x.to(train.x.device), test.y.to(train.x.device)
    targets_a, targets_b = _oracles(models_a, half_a, "half A"), _oracles(models_b, half_b, "half B")
    if fd.active():  # the same models on every rank: their labels of a few inputs agree
        fd.check_same_job(
            {"models": fd.digest_tensors(_wrong(targets_a, x[:64], y[:64]), _wrong(targets_b, x[:64], y[:64]))}
        )
    got = fd.map_rows(
        x.shape[0], batch_size, lambda rows, _c: _batch(sources, targets_a, targets_b, x[rows], y[rows], eps),
        device=x.device, keep_on_root={f"x_adv {s}" for s in names}, what="matrix: crafting and labelling",
    )  # fmt: skip
    milestone(progress, f"matrix: crafted with {', '.join(names)} and labelled by every target")
    if not fd.is_root():
        return Report(fd.broadcast_json(None, "sharing the report"), render_html, summary)
    crafted = {s: sources[s].crafted({k: got[f"{k} {s}"] for k in ("x_adv", "over", "needed")}) for s in names}
    same = [_rates(got[f"wrong A {s}"]) for s in names]
    disjoint = [_rates(got[f"wrong B {s}"]) for s in names]
    clean_a, clean_b = _rates(got["wrong A clean"]), _rates(got["wrong B clean"])
    report = {
        **stamp(SCHEMA),
        "data": {
            **train.info.to_dict(),
            "n": int(x.shape[0]),
            "split": test.split,
            "halves": [len(half_a), len(half_b)],
        },
        "settings": {
            "techniques": names,
            "eps": float(eps),
            "norm": "inf",
            **asdict(settings),
            "batch_size": batch_size,
        },
        "models": {
            t: {
                "description": settings.describe(t),
                "clean_error": [clean_a[i], clean_b[i]],
            }
            for i, t in enumerate(names)
        },
        "crafting": {
            t: {
                "method": crafted[t].method,
                "over_budget": crafted[t].over_budget,
                "label_queries": crafted[t].label_queries,
                **_sizes(x, crafted[t]),
            }
            for t in names
        },
        "same_data": {"sources": names, "targets": names, "rates": same},
        "disjoint_halves": {"sources": names, "targets": names, "rates": disjoint},
        "notes": [n for n in (crafted[t].note(eps, int(x.shape[0])) for t in names) if n],
        "timings": {"total_seconds": time.perf_counter() - started},
    }
    report = json_safe(report)
    problems = validate(report, REPORT_SCHEMA)
    if problems:  # a bug in feint, never the user's input
        raise AssertionError(f"the matrix report does not match {SCHEMA}: {problems[:3]}")
    fd.broadcast_json(report, "sharing the report")
    made = Report(report, render_html, summary)
    return made.save(out) if out is not None else made


def _batch(
    sources: dict[str, Source],
    targets_a: dict[str, Oracle],
    targets_b: dict[str, Oracle],
    x: Tensor,
    y: Tensor,
    eps: float,
) -> dict[str, Tensor]:
    """One batch: every source's adversarial inputs and which targets of each half misclassify them
    (and the clean inputs)."""
    out = {"wrong A clean": _wrong(targets_a, x, y), "wrong B clean": _wrong(targets_b, x, y)}
    for s, src in sources.items():
        made = src.batch(x, y, eps)
        out |= {f"{k} {s}": v for k, v in made.items()}
        out[f"wrong A {s}"] = _wrong(targets_a, made["x_adv"], y)
        out[f"wrong B {s}"] = _wrong(targets_b, made["x_adv"], y)
    return out
