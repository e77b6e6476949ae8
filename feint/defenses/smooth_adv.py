"""SmoothAdv: adversarial training of the smoothed classifier.

Salman, Yang, Li, Zhang, Zhang, Razenshteyn & Bubeck 2019, "Provably Robust Deep Learning via
Adversarially Trained Smoothed Classifiers": Gaussian noise augmentation (:mod:`feint.defenses.noise`)
trains the base model on noisy inputs; SmoothAdv first moves each input, within an L2 ball of
``eps``, to where the *soft smoothed classifier* ``G(x) = E_delta softmax(f(x + delta))`` is most
wrong, estimated with ``samples`` noise draws that stay fixed across the ``steps`` PGD steps (their
SmoothAdv_PGD with m draws, step size 2 eps / steps, no random start), then trains on the ``samples``
noisy copies of that point. The paper also ramps eps up over the first epochs; this recipe does not.
Shapes: x (N, C, H, W), y (N,); noise (m, N, C, H, W).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import Recipe, Step, register_recipe
from feint.defenses.context import TrainContext
from feint.defenses.perturb import pgd_points
from feint.defenses.smoothing import check_sigma
from feint.errors import InputError
from feint.threat import ThreatModel
from feint.validation import check_positive_int


class SoftSmoothed(nn.Module):
    """``log G(x)``, the soft smoothed classifier over fixed ``noise`` (m, N, C, H, W): the log of the
    mean softmax of ``model`` over the m noisy copies of each input (log-probabilities are logits)."""

    def __init__(self, model: nn.Module, noise: Tensor) -> None:
        super().__init__()
        self.model, self.noise = model, noise

    def forward(self, x: Tensor) -> Tensor:
        m = self.noise.shape[0]
        logits = self.model((x.unsqueeze(0) + self.noise).flatten(0, 1))
        probs = F.softmax(logits, 1).view(m, x.shape[0], -1).mean(0)
        return probs.clamp_min(1e-12).log()


def smooth_adv_points(model: nn.Module, x: Tensor, y: Tensor, noise: Tensor, threat: ThreatModel, steps: int) -> Tensor:
    """PGD (L2, ``steps`` steps of ``2 eps / steps`` from ``x``) on the cross-entropy of the soft
    smoothed classifier over ``noise``: Salman et al. 2019's SmoothAdv_PGD points."""
    soft = SoftSmoothed(model, noise)
    return pgd_points(
        soft, x, y, threat, steps=steps, step_size=2 * threat.eps / steps, generator=None, random_start=False
    )


@register_recipe("smooth-adv")
@dataclass(frozen=True, kw_only=True)
class SmoothAdv(Recipe):
    """Train on ``samples`` noisy copies (sigma) of SmoothAdv's L2 points at ``eps`` (``steps`` PGD steps)."""

    sigma: float = 0.25
    eps: float = 0.25
    steps: int = 1
    samples: int = 2
    bounds: tuple[float, float] = field(default=(0.0, 1.0), metadata={"internal": True})

    def __post_init__(self) -> None:
        check_sigma(self.sigma)
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not 0 < self.eps < math.inf:
            raise InputError(f"smooth-adv needs a finite L2 eps > 0 (the radius it trains against), got {self.eps!r}")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.samples, "samples (noise draws per input)")

    def prepare(self, context: TrainContext) -> Recipe:
        return dataclasses.replace(self, bounds=context.train_data.info.bounds)

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        gen = step.generator(x.device)
        noise = self.sigma * torch.randn((self.samples, *x.shape), generator=gen, device=x.device, dtype=x.dtype)
        points = smooth_adv_points(model, x, y, noise, ThreatModel("2", self.eps, self.bounds), self.steps)
        return F.cross_entropy(model((points.unsqueeze(0) + noise).flatten(0, 1)), y.repeat(self.samples))
