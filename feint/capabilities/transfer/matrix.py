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

The held-out inputs are crafted in batches of ``batch_size``. Under torchrun the work is shared by
model, not by input: technique ``u`` (the chosen ones, then any member the ensemble needs) is
fitted on both halves, crafts as a source and labels as a target on rank ``u % K`` alone; the
crafted inputs and the labels are gathered. The ensemble's labels are the hard majority vote of
its members' labels (ties to the smallest class, as scikit-learn's ``VotingClassifier``), so it
needs no model of its own; its substitute learns the vote on half A. Every model is fitted once,
with the seeds one process uses, so K ranks measure exactly what one process measures.
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
from feint.capabilities.transfer.crafting import Crafted, ensemble_source, source
from feint.capabilities.transfer.matrix_page import render_html
from feint.capabilities.transfer.matrix_report import REPORT_SCHEMA, SCHEMA, summary
from feint.capabilities.transfer.techniques import (
    MEMBERS,
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


def _rates(wrong: Tensor) -> list[float]:
    return [float(wrong[:, t].float().mean()) for t in range(wrong.shape[1])]


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
    x, y = test.x.to(train.x.device), test.y.to(train.x.device)
    units = names + [m for m in MEMBERS if "ens" in names and m not in names]  # unit u: rank u % K
    mine = [u for i, u in enumerate(units) if fd.owner(i) == fd.rank()]
    with fd.alone():  # each model on its own rank, in this process
        models = {u: (fit_one(u, half_a, settings), fit_one(u, half_b, settings)) for u in mine if u != "ens"}
    per_unit = _Units(units, names, models, x, y, half_a)
    votes = per_unit.map("labels of half A", per_unit.train_labels) if "ens" in names else {}
    crafted_parts = per_unit.map("matrix: crafting", lambda u: per_unit.craft(u, votes, settings, eps, batch_size))
    milestone(progress, f"matrix: crafted with {', '.join(names)}")
    adversarial = [x] + [crafted_parts[s]["x_adv"] for s in names]
    labelled = per_unit.map("matrix: labelling", lambda u: per_unit.label(u, adversarial))
    if not fd.is_root():
        return Report(fd.broadcast_json(None, "sharing the report"), render_html, summary)
    got = _wrong_by_target(names, labelled, y, train.info.num_classes)
    crafted = {
        s: Crafted.of(s, crafted_parts[s], label_queries=len(half_a) if s in ("knn", "ens") else None) for s in names
    }
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


def fit_one(technique: str, data: Dataset, settings: TechniqueSettings) -> Any:
    """One technique fitted on ``data`` (a member of the ensemble, never the vote itself)."""
    return fit_techniques([technique], data, settings=settings)[technique]


class _Units:
    """The per-technique work of one rank: the models it fitted (``models[u]``: half A, half B)."""

    def __init__(
        self,
        units: list[str],
        sources: list[str],
        models: dict[str, tuple[Any, Any]],
        x: Tensor,
        y: Tensor,
        half_a: Dataset,
    ) -> None:
        self.units, self.sources, self.models, self.x, self.y, self.half_a = units, sources, models, x, y, half_a

    def map(self, what: str, work: Any) -> dict[str, dict[str, Tensor]]:
        """``work(u)`` for every unit on its own rank, every unit's fields on every rank."""
        return {
            self.units[c]: part
            for c, part in fd.map_chunks(
                len(self.units), lambda c: work(self.units[c]), device=self.x.device, what=what
            )
        }

    def oracle(self, u: str, half: int) -> Oracle:
        info = self.half_a.info
        name = f"{u} ({'half A' if half == 0 else 'half B'})"
        return technique_oracle(
            self.models[u][half], input_shape=info.input_shape, num_classes=info.num_classes, name=name
        )

    def train_labels(self, u: str) -> dict[str, Tensor]:
        """A member's labels of half A's inputs (the ensemble's substitute learns their vote)."""
        if u == "ens":
            return {"labels": self.y.new_zeros(0)}
        return {"labels": self.oracle(u, 0).labels(self.half_a.x).to(self.y.device)}

    def craft(
        self, u: str, votes: dict[str, dict[str, Tensor]], settings: TechniqueSettings, eps: float, batch: int
    ) -> dict[str, Tensor]:
        """A source's adversarial versions of every held-out input (in batches), with the path attack's
        per-row ``over`` and ``needed``; nothing for a member that is only in the ensemble."""
        if u not in self.sources:
            return _nothing(self.x)
        if u == "ens":
            members = torch.stack([votes[m]["labels"] for m in MEMBERS], dim=1)
            made = ensemble_source(
                vote(members, self.half_a.info.num_classes), train_data=self.half_a, settings=settings
            )
        else:
            made = source(u, self.models[u][0], train_data=self.half_a, settings=settings)
        parts = [made.batch(self.x[rows], self.y[rows], eps) for rows in fd.batch_slices(self.x.shape[0], batch)]
        return {k: torch.cat([p[k] for p in parts]) for k in ("x_adv", "over", "needed")}

    def label(self, u: str, adversarial: list[Tensor]) -> dict[str, Tensor]:
        """A member's labels of the clean and every source's inputs, by its half-A and half-B models:
        (N, sets) each; nothing for the ensemble (its labels are the vote)."""
        if u == "ens":
            empty = self.y.new_zeros((0, len(adversarial)))
            return {"A": empty, "B": empty}
        return {
            half: torch.stack([self.oracle(u, i).labels(a).to(self.y.device) for a in adversarial], dim=1)
            for i, half in enumerate(("A", "B"))
        }


def _nothing(x: Tensor) -> dict[str, Tensor]:
    return {"x_adv": x[:0], "over": torch.zeros(0, dtype=torch.bool, device=x.device), "needed": x.new_zeros(0)}


def vote(labels: Tensor, num_classes: int) -> Tensor:
    """(N, M) members' labels -> (N,) their hard majority vote, a tie going to the smallest class
    (scikit-learn's ``VotingClassifier(voting="hard")``: argmax of the counts)."""
    counts = torch.nn.functional.one_hot(labels.long(), num_classes).sum(1)
    return counts.argmax(1)


def _wrong_by_target(
    names: list[str], labelled: dict[str, dict[str, Tensor]], y: Tensor, num_classes: int
) -> dict[str, Tensor]:
    """``wrong {half} {set}`` (N, T) bool: which target of each half misclassifies the clean inputs
    (``set`` "clean") and each source's (``set`` the source)."""
    got: dict[str, Tensor] = {}
    sets = ["clean", *names]
    for half in ("A", "B"):
        per_target = []
        for t in names:
            if t == "ens":
                members = torch.stack([labelled[m][half] for m in MEMBERS], dim=2)  # (N, sets, members)
                labels = vote(members.flatten(0, 1), num_classes).view(members.shape[:2])
            else:
                labels = labelled[t][half]
            per_target.append(labels != y[:, None])
        wrong = torch.stack(per_target, dim=2)  # (N, sets, T)
        for i, name in enumerate(sets):
            got[f"wrong {half} {name}"] = wrong[:, i]
    return got
