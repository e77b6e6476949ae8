"""Certified accuracy of a smoothed classifier, and the words that say what a certificate means.

Cohen, Rosenfeld & Kolter 2019 ("Certified Adversarial Robustness via Randomized Smoothing", sec. 4)
report the *approximate certified accuracy* at L2 radius r: the fraction of the inputs on which
CERTIFY returns the true class with a radius of at least r (an abstention counts as wrong). Used by
``feint certify`` and by the audit's robustness interval. Shapes: predictions, radii, labels (N,).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# Radii of the table in every certified report (L2, inputs in [0, 1]); Cohen et al.'s figures span 0-4.
DEFAULT_RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def guarantee(alpha: float, sigma: float) -> str:
    """What a certificate of randomized smoothing promises, and what it does not (plain text)."""
    return (
        f"Each certificate holds with probability at least {1 - alpha:.4g} (alpha = {alpha:g}, over the noise "
        f"draws) for the smoothed classifier g: the class the base model gives most often under Gaussian noise "
        f"of sigma {sigma:g} (Cohen et al. 2019), predicted by Monte Carlo. It says nothing about the base "
        "model f on its own: f answering without noise may be fooled well inside a certified radius. The "
        "radii are L2 distances in input units."
    )


def certified_accuracy(prediction: Tensor, radius: Tensor, y: Tensor, radii: Sequence[float]) -> list[float]:
    """Per radius r: the fraction of inputs certified correct with a radius >= r (NaN radius: abstained)."""
    correct = prediction == y
    return [float((correct & (radius >= r)).float().mean()) for r in radii]


def curve(prediction: Tensor, radius: Tensor, y: Tensor, top: float) -> dict[str, list[float]]:
    """The certified accuracy curve, exactly: ``accuracy[i]`` holds on ``(radius[i-1], radius[i]]`` (a step
    at every radius certified correct), from 0 to ``top``."""
    won = radius[(prediction == y) & ~torch.isnan(radius)]
    steps = sorted({0.0, *won.tolist(), float(max(top, *won.tolist(), 0.0))})
    return {"radius": steps, "accuracy": certified_accuracy(prediction, radius, y, steps)}
