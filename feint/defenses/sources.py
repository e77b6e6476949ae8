"""Loading the static source models of ensemble adversarial training, checked against the training data."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from feint.data.dataset import DatasetInfo
from feint.errors import FeintError, InputError
from feint.models.io import load_config, load_model


def _check_fits(path: str, trained: dict[str, Any], info: DatasetInfo) -> None:
    name = trained.get("name")
    classes = trained.get("class_names") or []
    shape = tuple(trained.get("input_shape") or ())
    if name != info.name:
        raise InputError(
            f"--sources {path} was trained on {name}, but this run trains on {info.name}; "
            f"pass source models trained on {info.name}"
        )
    if len(classes) != info.num_classes:
        raise InputError(
            f"--sources {path} predicts {len(classes)} classes but {info.name} has {info.num_classes}; "
            "pass source models trained on the same classes"
        )
    if shape != tuple(info.input_shape):
        raise InputError(
            f"--sources {path} takes inputs of shape {shape}, but {info.name} has {tuple(info.input_shape)}; "
            "pass source models trained on this data"
        )


def load_sources(paths: tuple[str, ...], info: DatasetInfo, device: torch.device) -> list[nn.Module]:
    """Each run directory's model in eval mode with frozen weights; one clear error for one that does not fit."""
    models = []
    for path in paths:
        try:
            config = load_config(path)
        except FeintError as exc:
            raise InputError(f"--sources {path}: {exc}") from exc
        _check_fits(path, config.get("data") or {}, info)
        model = load_model(path, device=str(device))
        for p in model.parameters():
            p.requires_grad_(False)
        models.append(model.eval())
    return models
