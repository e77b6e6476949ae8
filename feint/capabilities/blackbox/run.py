"""``feint.blackbox``: the substitute attack end to end, with a report a person can read.

Papernot et al. 2017, "Practical Black-Box Attacks against Machine Learning": train a substitute
of a label-only oracle by Jacobian-based dataset augmentation (:mod:`feint.training.substitute`),
attack the substitute with a white-box attack (FGSM by default, as in the paper), send the
adversarial inputs to the oracle and count how many it misclassifies. Beside it: random sign
noise of the same size (Carlini et al. 2019: an attack must beat noise), and the substitute's
agreement with the oracle and the queries it cost, per round.

Queries are accounted in two kinds: *training* queries (the attack's cost, at most
``config.max_queries``) and *measurement* queries (the oracle's labels of the held-out inputs,
of the adversarial inputs and of the noise, which only measure the attack). The training is saved
after every round in ``out/blackbox_state`` and resumed from there; the substitute is saved as a
feint run directory in ``out/substitute``. Shapes: x_seed (N0, C, H, W), x (N, C, H, W), y (N,).

Under torchrun the per-input work is shared out (the oracle's labels of the held-out inputs and
the measurement, in batches, :mod:`feint.capabilities.blackbox.measure`); training the substitute is a
sequence of rounds, each augmenting from the last, so rank 0 alone trains it (and saves and resumes
it) while the others wait, then sends its weights to every rank.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint import distributed as fd
from feint.attacks.registry import full_strength, get_attack
from feint.capabilities.blackbox.measure import label_inputs, measure_transfer, queries_everywhere
from feint.capabilities.blackbox.page import render_html
from feint.capabilities.blackbox.report import REPORT_SCHEMA, SCHEMA, summary
from feint.capabilities.blackbox.state import fingerprint, load_state
from feint.capabilities.blackbox.substitute import shared_substitute, train_on_root
from feint.data.dataset import Dataset, DatasetInfo
from feint.data.inputs import unpack
from feint.devices import place
from feint.errors import InputError
from feint.io import prepare_out
from feint.oracles.base import Oracle
from feint.report.files import json_safe
from feint.report.gallery import GalleryItem, label_gallery_items
from feint.report.provenance import model_info, stamp
from feint.report.report import Page, Report
from feint.report.schema import validate
from feint.training.substitute import SubstituteConfig, check_seed_budget, check_set_fits
from feint.validation import check_images, check_labels, check_nonnegative, check_positive_int


def check_disjoint(x_seed: Tensor, x: Tensor) -> None:
    """S_0 must be held out: none of its inputs may also be an input the attack is measured on."""
    seen = {row.numpy().tobytes() for row in x.detach().cpu().flatten(1)}
    shared = sum(row.numpy().tobytes() in seen for row in x_seed.detach().cpu().flatten(1))
    if shared:
        raise InputError(
            f"{shared} of the {x_seed.shape[0]} initial inputs S0 are also among the inputs the attack is measured "
            "on; draw S0 from other held-out inputs"
        )


def _check(oracle: Oracle, x_seed: Tensor, x: Tensor, y: Tensor, info: DatasetInfo, eps: Sequence[float]) -> None:
    if not isinstance(oracle, Oracle):
        raise InputError(
            f"the substitute attack queries an oracle, got {type(oracle).__name__}; wrap a model with "
            "feint.oracles.as_oracle(model, access='labels')"
        )
    if not isinstance(x_seed, Tensor) or x_seed.dim() != 4 or x_seed.shape[0] == 0:
        raise InputError("S0 (the attacker's initial inputs) is empty; pass at least one held-out input (--seed-size)")
    check_images(x, bounds=info.bounds)
    check_labels(y, n=x.shape[0], num_classes=info.num_classes)
    if tuple(x_seed.shape[1:]) != tuple(x.shape[1:]):
        raise InputError(
            f"S0 has inputs of shape {tuple(x_seed.shape[1:])} but the held-out inputs have {tuple(x.shape[1:])}; "
            "draw S0 from the same dataset"
        )
    check_disjoint(x_seed, x)
    if not eps:
        raise InputError("give at least one eps to attack with")
    for e in eps:
        check_nonnegative(e, "every eps")


def blackbox(
    oracle: Oracle,
    x_seed: Tensor,
    x: Tensor | Dataset,
    y: Tensor | None = None,
    *,
    eps: Sequence[float] = (0.3,),
    attack: str = "fgsm",
    attack_params: dict[str, Any] | None = None,
    config: SubstituteConfig | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    target_name: str | None = None,
    resume: bool = True,
    out: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    batch_size: int = 256,
) -> Report:
    """Train a substitute of ``oracle`` from ``x_seed`` (S_0), attack it on the held-out ``(x, y)``
    with ``attack`` at every ``eps`` and measure on the oracle; returns the ``feint.blackbox/1``
    :class:`~feint.report.Report` (saved to ``out`` when given).

    ``x`` is a :class:`~feint.data.dataset.Dataset` of held-out inputs (then no ``y``; its info and
    split go into the report) or a tensor with labels ``y``. ``config`` sets the substitute's
    training (default :class:`~feint.training.substitute.SubstituteConfig` seeded by ``seed``, as
    ``feint blackbox``; a ``config`` of your own carries the training's seed); ``seed`` seeds the attack.
    ``out`` receives ``report.json``, ``report.html``, ``substitute/`` (a feint run directory) and
    the resumable ``blackbox_state/``; without it nothing is written. The held-out inputs are
    attacked in batches of ``batch_size``, each with its own seed; ``device`` (default: where the
    inputs are) moves the inputs there. Under torchrun (noticed) every rank calls it alike, rank 0
    alone writes ``out`` and every rank returns the same report.
    """
    started = time.perf_counter()
    x, y, data_info, split = unpack(x, y, data_info, split)
    x_seed, x, y = place(device, x_seed), place(device, x), place(device, y)
    config = config or SubstituteConfig(seed=seed)
    k = int(y.max()) + 1 if isinstance(y, Tensor) and y.numel() else 2
    info = data_info or DatasetInfo("data", tuple(str(i) for i in range(k)), tuple(x.shape[1:]))  # type: ignore[arg-type]
    grid = sorted({float(e) for e in eps})
    fd.join(None, x.device)
    substitute_dir: Path | None = None
    progress = progress and fd.is_root()
    with fd.together("checking the inputs"):
        check_positive_int(batch_size, "batch_size (--batch-size)")
        _check(oracle, x_seed, x, y, info, grid)
        check_seed_budget(int(x_seed.shape[0]), min(config.max_queries or math.inf, oracle.remaining))
        check_set_fits(int(x_seed.shape[0]), config, tuple(x_seed.shape[1:]))
        if out is not None and fd.is_root():
            prepare_out(out)
    spec = get_attack(attack)
    params = full_strength(spec, dict(attack_params or {}))
    if "bounds" in spec.parameters():
        params.setdefault("bounds", info.bounds)
    if "seed" in spec.parameters():
        params.setdefault("seed", seed)
    fp = fingerprint(config, oracle.name, x_seed, x)
    fd.check_job([fp, attack, params, grid, seed, batch_size], [y], n_inputs=x.shape[0], what="held-out inputs")
    resumed = out is not None and resume and fd.is_root()  # rank 0 alone keeps the state
    saved, note = load_state(out, fp, config, x.device) if out is not None and resumed else (None, None)
    notes = [note] if note else []
    state, oracle_labels = (saved.state, saved.oracle_labels) if saved is not None else (None, None)
    # what the saved run spent (labelling the held-out inputs, the finished rounds), so that a resumed
    # report counts the queries an uninterrupted run counts
    spent_before = (saved.labelling_queries, saved.state.queries) if saved is not None else (0, 0)
    if saved is not None:
        notes.append(
            f"resumed {len(saved.state.records)} finished substitute rounds from {Path(str(out)) / 'blackbox_state'}"
        )
    counted_at_start = oracle.queries
    if not fd.broadcast_json(oracle_labels is not None, "sharing the resumed labels"):
        oracle_labels = label_inputs(oracle, x, batch_size)
    elif fd.active():
        shared = fd.broadcast_tensors(
            {"labels": oracle_labels} if oracle_labels is not None else None,
            "sharing the resumed labels",
            device=x.device,
        )
        oracle_labels = shared["labels"]
    assert oracle_labels is not None
    labelling = queries_everywhere(oracle, counted_at_start) + spent_before[0]
    with fd.together("training the substitute on rank 0"):
        if fd.is_root():
            state, substitute_dir = train_on_root(
                oracle, x_seed, (x, oracle_labels, y), config, info, state, out, fp, progress, labelling
            )
    substitute = shared_substitute(state, config, info, x.device)
    counted_before_measuring = oracle.queries
    transfer, adv = measure_transfer(
        oracle, substitute, x, y, oracle_labels, attack, params, grid, info, seed, batch_size, progress
    )
    measuring = queries_everywhere(oracle, counted_before_measuring)
    counted = queries_everywhere(oracle, counted_at_start) + sum(spent_before)
    if not fd.is_root() or state is None:
        report, notes = fd.broadcast_json(None, "sharing the report")
        return Report(report, _page([]), summary, notes=tuple(notes + report["notes"]))
    report = {
        **stamp(SCHEMA),
        "target": {
            "name": target_name or oracle.name,
            "access": oracle.access,
            "clean_accuracy": float((oracle_labels == y).float().mean()),
        },
        "substitute": {
            **model_info(state.model, config.arch),
            "run_dir": str(substitute_dir) if substitute_dir else None,
        },
        "data": {**info.to_dict(), "n_seed": int(x_seed.shape[0]), "n": int(x.shape[0]), "split": split},
        "settings": {
            **config.to_dict(),
            "attack": attack,
            "attack_params": params,
            "eps": grid,
            "batch_size": batch_size,
        },
        "rounds": [r.to_dict() for r in state.records],
        "queries": {
            "training": state.queries,
            "budget": config.max_queries,
            "measurement": labelling + measuring,
            "oracle_counted": counted,
        },
        "eps": grid,
        "transfer": transfer,
        "notes": [*state.notes],
        "timings": {"total_seconds": time.perf_counter() - started},
    }
    report = json_safe(report)
    problems = validate(report, REPORT_SCHEMA)
    if problems:  # a bug in feint, never the user's input
        raise AssertionError(f"the blackbox report does not match {SCHEMA}: {problems[:3]}")
    i = len(grid) - 1
    gallery = label_gallery_items(
        x,
        adv[i][0],
        y,
        oracle_labels,
        adv[i][1],
        class_names=info.class_names,
        attack=attack,
        eps=grid[i],
        bounds=info.bounds,
    )
    fd.broadcast_json([report, notes], "sharing the report")
    made = Report(report, _page(gallery), summary, notes=tuple(notes + report["notes"]))
    return made.save(out) if out is not None else made


def _page(gallery: Sequence[GalleryItem]) -> Page:
    return lambda report: render_html(report, gallery)
