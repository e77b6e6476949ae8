"""Everything :func:`feint.train` settles before the first batch besides the preflight checks: the
settings, the optimizer, the state restored from a checkpoint and the radius of the per-epoch robust
check; and, under torchrun, a recipe's counts summed over the ranks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from feint import distributed as fd
from feint.defenses.base import Recipe
from feint.errors import InputError
from feint.threat import ThreatModel
from feint.training.checkpoint import load_checkpoint
from feint.training.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]


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
    saved: dict[str, Any] | None,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> tuple[int, list[dict[str, Any]], bool, dict[str, Any] | None]:
    """(first epoch to run, history so far, whether a guard stopped the run, the guard's state): from
    the checkpoint state ``saved`` (read and checked by :mod:`feint.training.preflight`), else a fresh start."""
    if folder is None or saved is None:
        return 0, [], False, None
    load_checkpoint(folder, saved, model=model, optimizer=optimizer, device=device)
    return int(saved["epoch"]), list(saved["history"]), bool(saved.get("stopped", False)), saved.get("guard")


def monitor_threat(cfg: TrainConfig, recipe: Recipe | None, bounds: tuple[float, float]) -> ThreatModel | None:
    if cfg.robust_eps is not None:
        eps = cfg.robust_eps
    elif recipe is not None and recipe.threat is not None:
        eps = recipe.threat.eps
    else:
        eps = 0.1 * (bounds[1] - bounds[0])
    return ThreatModel("inf", eps, bounds) if eps > 0 else None


def shared_statistics(stats: dict[str, Any]) -> dict[str, Any]:
    """A recipe's counts (:meth:`Recipe.statistics`, numbers in nested dicts) summed over the ranks
    (each counted its own batches); alone, unchanged."""
    if not fd.active():
        return stats
    return _sum_leaves(fd.all_gather_json(stats, "summing the recipe's counts"))


def _sum_leaves(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, dict):
        return {k: _sum_leaves([p[k] for p in parts]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return sum(parts)
    return first
