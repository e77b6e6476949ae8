"""The cyclic learning rate of Wong, Rice & Kolter 2020 ("Fast is better than free"), shared by the
recipes tuned with it: the rate rises linearly from 0 to the run's ``lr`` over the first 2/5 of
training and falls back to 0; the multi-step recipes (their PGD baseline, TRADES) train on it too,
so that the recipes are compared on one schedule."""

from __future__ import annotations

from typing import Any

from feint.defenses.base import Step

PEAK = 0.4  # the learning rate peaks after 2/5 of training
# Training settings the cyclic recipes were tuned with on Fashion-MNIST at eps 0.1 (default convnet).
CYCLIC_DEFAULTS: dict[str, Any] = {"epochs": 10, "lr": 5e-3, "batch_size": 128, "optimizer": "adam"}


def cyclic(progress: float, *, peak: float = PEAK) -> float:
    """Triangular schedule in [0, 1]: 0 at the start, 1 at ``peak``, 0 at the end."""
    return progress / peak if progress < peak else max(0.0, (1 - progress) / (1 - peak))


class CyclicLR:
    """Mixin for a recipe: its learning rate follows :func:`cyclic` over the whole run."""

    def lr_factor(self, step: Step) -> float:
        return cyclic(step.progress)
