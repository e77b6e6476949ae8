"""What the black-box commands share: the target behind an oracle, and the attacker's held-out inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import torch

from feint.cli.common import Decorator, check_model_fits_data, stack, trust_option
from feint.data import Dataset
from feint.errors import InputError
from feint.models import resolve
from feint.models.classes import check_classes
from feint.oracles import Oracle, as_oracle


def target_options(*, weights: str, required: bool) -> Decorator:
    """``--target`` (as ``target_spec``), its ``weights`` option (e.g. ``--weights``) and ``--trust-file``."""
    return stack(
        click.option(
            "--target",
            "target_spec",
            required=required,  # no default=None: click 8.3 takes it as a value and drops the requirement
            help="the model attacked, at label-only access: run dir, module:factory, file.onnx, file.skops or a v2 URL",
        ),
        click.option(weights, default=None, help="safetensors weights for a package.module:factory target"),
        trust_option("load a pickle/joblib target (runs code from the file)"),
    )


def _check_oracle_fits_data(oracle: Oracle, data: Dataset, spec: str) -> None:
    """A query-only target states what it can (input shape, classes): it must match ``data``'s."""
    info = data.info
    if oracle.input_shape is not None and tuple(oracle.input_shape) != tuple(info.input_shape):
        raise InputError(
            f"the target {spec} takes inputs of shape {tuple(oracle.input_shape)} but {info.name} has "
            f"{tuple(info.input_shape)}; pass --data with the target's inputs"
        )
    check_classes(oracle, data, spec)


def target_oracle(
    spec: str, weights: str | None, data: Dataset, device: torch.device, *, trust: bool = False
) -> tuple[Oracle, str]:
    """The target ``spec`` (any form :func:`feint.models.resolve` takes: a run directory, a factory,
    an ONNX or skops file, a ``feint serve`` URL) at label-only access, and a name for reports.

    A feint run directory must have been trained on the same dataset as ``data`` (the attacker's
    inputs come from its task); a query-only target must take ``data``'s input shape and classes.
    Every query goes through the returned oracle's counter (``oracle.queries``); an ONNX file is
    queried through onnxruntime (a black-box target needs no torch conversion).
    """
    loaded = resolve(spec, weights=weights, device=str(device), trust=trust, convert=False)  # ONNX: onnxruntime
    info = data.info
    if loaded.oracle is not None:
        _check_oracle_fits_data(loaded.oracle, data, spec)
        oracle = as_oracle(loaded.oracle, access="labels")
        if oracle.num_classes is None:  # a label-only target: answers outside the data's classes are errors
            oracle.num_classes = info.num_classes
        return oracle, loaded.name
    check_model_fits_data(loaded.config, data, spec, loaded.target)
    trained_on = ((loaded.config or {}).get("data") or {}).get("name")
    if trained_on is not None and trained_on != info.name:
        raise InputError(
            f"the target in {spec} was trained on {trained_on} but --data is {info.name}; the attacker's inputs "
            f"must come from the target's task: pass --data {trained_on}"
        )
    name = spec if loaded.source == "factory" else Path(spec).name
    oracle = as_oracle(
        loaded.target,
        access="labels",
        input_shape=info.input_shape,
        num_classes=info.num_classes,
        bounds=info.bounds,
        name=name,
    )
    return oracle, name


def held_out_split(data: Dataset, seed_size: int, n: int | None, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded split of held-out ``data`` into the attacker's S0 (``seed_size`` inputs) and ``n``
    other inputs to measure on (all the rest when ``n`` is None); the two never share an input."""
    if seed_size < 1:
        raise InputError(f"--seed-size must be at least 1: S0 cannot be empty, got {seed_size}")
    if n is not None and n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if seed_size >= len(data):
        raise InputError(
            f"--seed-size {seed_size} leaves none of the {len(data)} held-out {data.info.name} inputs to measure on; "
            "pass a smaller --seed-size"
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    rest = order[seed_size:] if n is None else order[seed_size : seed_size + n]
    seeds = order[:seed_size]
    return replace(data, x=data.x[seeds], y=data.y[seeds]), replace(data, x=data.x[rest], y=data.y[rest])
