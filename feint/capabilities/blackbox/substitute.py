"""The substitute of ``feint.blackbox`` under torchrun: rank 0 trains it (its rounds follow each other:
each augments from the last, so the training is not per input) and saves it, then every rank
receives its weights for the measurement, which is per input and shared out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.capabilities.blackbox.state import save_state
from feint.data.dataset import DatasetInfo
from feint.models.io import save_model
from feint.models.registry import create_model
from feint.oracles.base import Oracle
from feint.training.substitute import SubstituteConfig, SubstituteState, train_substitute

SUBSTITUTE_DIR = "substitute"


def train_on_root(
    oracle: Oracle,
    x_seed: Tensor,
    check: tuple[Tensor, Tensor, Tensor],
    config: SubstituteConfig,
    info: DatasetInfo,
    state: SubstituteState | None,
    out: str | Path | None,
    fp: str,
    progress: bool,
    labelling_queries: int,
) -> tuple[SubstituteState, Path | None]:
    """Train (or finish training) the substitute, saving the state after every round (with the
    ``labelling_queries`` that the oracle's labels ``check[1]`` cost) and the substitute as a run
    directory in ``out``."""

    def save(st: SubstituteState) -> None:
        if out is not None:
            save_state(out, fp, st, check[1], labelling_queries)

    state = train_substitute(
        oracle,
        x_seed,
        config=config,
        num_classes=info.num_classes,
        bounds=info.bounds,
        check=check,
        state=state,
        on_round=save,
        progress=progress,
    )
    if out is None:
        return state, None
    training: dict[str, Any] = {
        "substitute": config.to_dict(),
        "rounds": [r.to_dict() for r in state.records],
        "oracle": oracle.name,
        "training_queries": state.queries,
    }
    folder = save_model(
        state.model,
        Path(out) / SUBSTITUTE_DIR,
        arch=config.arch,
        arch_kwargs=config.arch_kwargs,
        data=info.to_dict(),
        training=training,
    )
    return state, folder


def shared_substitute(
    state: SubstituteState | None, config: SubstituteConfig, info: DatasetInfo, device: torch.device
) -> nn.Module:
    """Rank 0's trained substitute on every rank (alone: the state's own)."""
    if not fd.active():
        assert state is not None
        return state.model
    if state is not None:
        model = state.model
    else:
        model = create_model(
            config.arch, input_shape=info.input_shape, num_classes=info.num_classes, **config.arch_kwargs
        )  # type: ignore[arg-type]
        model = model.to(device).eval()
    fd.match_root(model)
    return model
