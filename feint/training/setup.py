"""Everything :func:`feint.train` settles before the first batch: the settings, the data checks,
the optimizer, the state restored from a checkpoint and the radius of the per-epoch robust check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from feint.data.dataset import Dataset
from feint.defenses.base import Recipe
from feint.errors import InputError
from feint.threat import ThreatModel
from feint.training.checkpoint import holds_run, load_checkpoint
from feint.training.config import TrainConfig
from feint.validation import check_images, check_labels


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]


def without_epochs(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that must match to resume; the epoch count may grow (train longer)."""
    return {k: v for k, v in settings.items() if k != "epochs"}


def check_data(data: Dataset, name: str) -> None:
    check_images(data.x, bounds=data.info.bounds, name=f"{name}.x")
    check_labels(data.y, n=len(data), num_classes=data.info.num_classes, name=f"{name}.y")


def resolve_config(config: TrainConfig | None, settings: dict[str, Any]) -> TrainConfig:
    base = config.to_dict() if config else {}
    if "recipe" in settings and "recipe_options" not in settings:
        base.pop("recipe_options", None)  # a new recipe does not inherit the old one's options
    try:
        return TrainConfig(**{**base, **settings})
    except TypeError as exc:
        raise InputError(f"unknown training setting: {exc}; see feint.training.TrainConfig") from exc


def restore(
    folder: Path | None,
    cfg: TrainConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    *,
    resume: bool,
    overwrite: bool,
) -> tuple[int, list[dict[str, Any]], bool, dict[str, Any] | None]:
    """(first epoch to run, history so far, whether a guard stopped the run, the guard's state):
    from the last checkpoint with ``resume``, else a fresh start (refused over a run unless ``overwrite``)."""
    if folder is not None and not (resume or overwrite) and holds_run(folder):
        raise InputError(
            f"{folder} already holds a training run; pass --resume (resume=True) to continue it, "
            "--overwrite (overwrite=True) to train it again from scratch, or choose another --out"
        )
    state = load_checkpoint(folder, model=model, optimizer=optimizer, device=device) if folder and resume else None
    if state is None:
        return 0, [], False, None
    if without_epochs(state.get("config", {})) != without_epochs(cfg.to_dict()):
        raise InputError(
            f"the checkpoint in {folder} was made with other settings; resume with the same settings "
            "or drop --resume and choose another --out"
        )
    return int(state["epoch"]), list(state["history"]), bool(state.get("stopped", False)), state.get("guard")


def monitor_threat(cfg: TrainConfig, recipe: Recipe | None, bounds: tuple[float, float]) -> ThreatModel | None:
    if cfg.robust_eps is not None:
        eps = cfg.robust_eps
    elif recipe is not None and recipe.threat is not None:
        eps = recipe.threat.eps
    else:
        eps = 0.1 * (bounds[1] - bounds[0])
    return ThreatModel("inf", eps, bounds) if eps > 0 else None
