"""Gaussian noise augmentation: the training that makes randomized smoothing work.

Cohen, Rosenfeld & Kolter 2019 ("Certified Adversarial Robustness via Randomized Smoothing", sec. 4)
train the base classifier on inputs with Gaussian noise ``N(0, sigma^2 I)`` added, at the sigma it
will be smoothed with: the smoothed classifier is only as accurate as the base model is under that
noise. The noise is not clipped to the input bounds (as in the paper and as :func:`feint.smooth`
draws it). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import Recipe, Step, register_recipe
from feint.defenses.smoothing import check_sigma


@register_recipe("gaussian-noise")
@dataclass(frozen=True, kw_only=True)
class GaussianNoise(Recipe):
    """Cross-entropy on ``x + sigma * N(0, I)``: the base model of a smoothed classifier at ``sigma``."""

    sigma: float = 0.25

    def __post_init__(self) -> None:
        check_sigma(self.sigma)

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        noise = torch.randn(x.shape, generator=step.generator(x.device), device=x.device, dtype=x.dtype)
        return F.cross_entropy(model(x + self.sigma * noise), y)
