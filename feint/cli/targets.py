"""What the black-box commands share: the target behind an oracle, and the attacker's held-out inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from feint.cli.common import check_model_fits_data
from feint.data import Dataset
from feint.errors import InputError
from feint.models import resolve_model
from feint.oracles import Oracle, as_oracle


def target_oracle(spec: str, weights: str | None, data: Dataset, device: torch.device) -> tuple[Oracle, str]:
    """The target ``spec`` at label-only access, and a name for reports. A feint run directory must
    have been trained on the same dataset as ``data`` (the attacker's inputs come from its task)."""
    model, config = resolve_model(spec, weights=weights, device=str(device))
    check_model_fits_data(config, data, spec)
    trained_on = ((config or {}).get("data") or {}).get("name")
    if trained_on is not None and trained_on != data.info.name:
        raise InputError(
            f"the target in {spec} was trained on {trained_on} but --data is {data.info.name}; the attacker's inputs "
            f"must come from the target's task: pass --data {trained_on}"
        )
    info = data.info
    name = Path(spec).name if config is not None else spec
    oracle = as_oracle(
        model,
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
