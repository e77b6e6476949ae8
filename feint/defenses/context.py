"""What a recipe may need to know about the training run it joins (see :meth:`Recipe.prepare`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from feint.data.dataset import Dataset


@dataclass(frozen=True)
class TrainContext:
    """The run a recipe is prepared for.

    ``fresh_model()`` builds a new, untrained model of the run's architecture (distillation trains
    its teacher on one); ``settings`` are the run's resolved training settings (epochs, lr, ...);
    ``train`` is :func:`feint.training.train` itself, handed in by the run so that a recipe that
    trains a model of its own (the distillation teacher) needs no import of the floor above it.
    """

    train_data: Dataset
    test_data: Dataset | None
    device: torch.device
    settings: dict[str, Any]
    fresh_model: Callable[[], nn.Module]
    arch: str | None
    arch_kwargs: dict[str, Any] | None
    out: Path | None
    resume: bool
    overwrite: bool
    progress: bool
    train: Callable[..., Any]
