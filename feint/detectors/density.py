"""The signals of the kernel density + Bayesian uncertainty detector (Feinman et al. 2017), in torch.

Feinman, Curtin, Shintre & Gardner, "Detecting Adversarial Samples from Artifacts", 2017. Two
signals per input: the log kernel density of its last-hidden-layer features under the training
features of its *predicted* class (:mod:`feint.detectors.kde`; optionally after PCA or an
autoencoder, :mod:`feint.detectors.reduction`), and its Bayesian uncertainty from ``mc_samples``
passes with MC dropout, ``U = mean_t |p_t|^2 - |mean_t p_t|^2`` over softmax outputs ``p_t``
(:mod:`feint.detectors.features` says where the dropout comes from). Both are z-scored and
combined by a logistic regression trained with clean and noisy inputs (Gaussian noise of the same
L2 size as the adversarial perturbation) as negatives and adversarial ones (crafted in ``fit`` with
``attacks`` at ``eps``) as positives. ``fit`` uses one part of the data for the densities and the
other (``lr_fraction``) for the regression; ``threshold_`` gives a false-positive rate of ``fpr`` on
the clean inputs of that part. MC dropout is seeded, so scores are reproducible.
Shapes: x (N, C, H, W) in ``bounds``, y (N,); scores (N,).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.detectors.features import DropoutPlan, captured, mc_dropout
from feint.detectors.kde import class_log_density
from feint.errors import InputError
from feint.validation import check_choice, check_fraction, check_positive_int


@dataclass(frozen=True)
class DensitySettings:
    """See :class:`DensityUncertaintyDetector` for the meaning of each setting."""

    layer: str | None = None
    dropout: str = "auto"
    dropout_p: float = 0.3
    mc_samples: int = 50
    reduce: str = "pca"
    components: int = 16
    hidden: int = 64
    max_per_class: int = 1000
    folds: int = 3
    attacks: tuple[str, ...] = ("fgsm", "pgd")
    eps: float = 0.1
    lr_fraction: float = 0.3
    fpr: float = 0.05
    seed: int = 0
    batch_size: int = 256
    bounds: tuple[float, float] = (0.0, 1.0)

    def check(self) -> None:
        from feint.detectors.reduction import REDUCTIONS

        check_choice(self.reduce, REDUCTIONS, "reduction")
        if self.layer is not None and not isinstance(self.layer, str):
            raise InputError(f"layer must be a layer name (a string such as '2' or 'fc'), got {self.layer!r}")
        if not isinstance(self.dropout, str):
            raise InputError(f"dropout must be 'auto', 'model' or a layer name, got {self.dropout!r}")
        for name in ("mc_samples", "components", "hidden", "max_per_class", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if self.mc_samples < 2:
            raise InputError(f"mc_samples must be at least 2 to measure uncertainty, got {self.mc_samples}")
        check_positive_int(self.folds, "folds")
        check_fraction(self.lr_fraction, "lr_fraction")
        check_fraction(self.fpr, "fpr")
        if not 0 < self.lr_fraction < 1:
            raise InputError("lr_fraction must lie strictly between 0 and 1: both parts of the data are needed")
        if not self.attacks:
            raise InputError("attacks is empty; name at least one attack that crafts the adversarial training inputs")


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Fixed randomness inside (MC dropout masks), the caller's random state untouched outside."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class Signals(nn.Module):
    """The fitted pipeline as a torch module: x -> (log density, uncertainty, detector logit), differentiable."""

    def __init__(
        self, model: nn.Module, layer: str, reducer: nn.Module, points: list[Tensor], bandwidths: list[float],
        plan: DropoutPlan, scaler: Tensor, coef: Tensor,
    ) -> None:  # fmt: skip
        super().__init__()
        self.model, self.layer, self.reducer, self.plan = model, layer, reducer, plan
        self.points, self.bandwidths = points, bandwidths
        self.scaler, self.coef = scaler, coef  # (2, 2): mean, scale rows; (3,): two weights and the intercept

    def density(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(log density at the predicted class, logits)."""
        with eval_mode(self.model), captured(self.model, self.layer) as outs:
            logits = self.model(x)
        features = self.reducer(outs[0])
        return class_log_density(features, logits.argmax(1).detach(), self.points, self.bandwidths), logits

    def uncertainty(self, x: Tensor, samples: int) -> Tensor:
        with mc_dropout(self.model, self.plan):
            probs = torch.stack([self.model(x).softmax(1) for _ in range(samples)])
        return probs.pow(2).sum(2).mean(0) - probs.mean(0).pow(2).sum(1)

    def combine(self, density: Tensor, uncertainty: Tensor) -> Tensor:
        z = (torch.stack([density, uncertainty], 1) - self.scaler[0].to(density)) / self.scaler[1].to(density)
        coef = self.coef.to(density)
        return z @ coef[:2] + coef[2]

    def forward(self, x: Tensor, samples: int) -> tuple[Tensor, Tensor, Tensor]:
        density, _ = self.density(x)
        uncertainty = self.uncertainty(x, samples)
        return density, uncertainty, self.combine(density, uncertainty)
