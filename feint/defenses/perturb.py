"""Adversarial points for training batches, built from the attacks' own steps.

The attacks in :mod:`feint.attacks` check their inputs and re-run the model on their result
(:func:`feint.attacks.result.finalize`); inside a training loop that is one wasted forward pass per
batch, so the recipes call the shared iteration (:func:`feint.attacks.steps.iterate`) directly on
a run that skips those checks. The model is in eval mode while the points are computed (its
BatchNorm statistics and dropout untouched by the attack). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import AttackRun, QueryCounter, ascent_gradient, eval_mode
from feint.attacks.steps import iterate
from feint.threat import ThreatModel


def _run(model: nn.Module, x: Tensor, y: Tensor, threat: ThreatModel, target: Tensor | None = None) -> AttackRun:
    budget = threat.fitted(x[0].numel())
    return AttackRun(QueryCounter(model, n=x.shape[0]), model, x.detach(), y, threat, target, budget)


def pgd_points(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    threat: ThreatModel,
    *,
    steps: int,
    step_size: float,
    generator: torch.Generator | None,
    random_start: bool = True,
) -> Tensor:
    """PGD (Madry et al. 2018) from a uniform random start; with ``steps=1`` and ``step_size=1.25 eps``
    it is FGSM-RS (Wong, Rice & Kolter 2020)."""
    with eval_mode(model):
        start = threat.random_start(x, generator=generator) if random_start else x.detach()
        return iterate(_run(model, x, y, threat), start, steps=steps, step_size=step_size, early_stop=False).detach()


def fgsm_points(model: nn.Module, x: Tensor, y: Tensor, threat: ThreatModel) -> Tensor:
    """FGSM (Goodfellow et al. 2015): one step of the full radius from ``x``."""
    return pgd_points(model, x, y, threat, steps=1, step_size=threat.eps, generator=None, random_start=False)


def rand_fgsm_points(
    model: nn.Module, x: Tensor, y: Tensor, threat: ThreatModel, *, generator: torch.Generator | None
) -> Tensor:
    """RAND+FGSM (Tramèr et al. 2018): a random sign step of eps/2, then FGSM with the other eps/2 (Linf)."""
    alpha = threat.eps / 2
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    start = threat.clip(x + alpha * noise.sign())
    with eval_mode(model):
        run = _run(model, x, y, threat)
        return iterate(run, start, steps=1, step_size=threat.eps - alpha, early_stop=False).detach()


def step_ll_points(model: nn.Module, x: Tensor, threat: ThreatModel) -> Tensor:
    """Step-LL (Kurakin et al. 2017, used by Tramèr et al. 2018): one step *down* the loss of the
    least-likely class, ``x - eps * sign(grad_x J(x, y_LL))``."""
    with eval_mode(model), torch.no_grad():
        least = model(x).argmin(1)
    with eval_mode(model):
        grad, _ = ascent_gradient(model, x, least, targeted=True)
    return threat.project(x + threat.eps * threat.steepest(grad), x).detach()
