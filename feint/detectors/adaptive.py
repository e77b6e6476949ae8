"""Attacks that know about the detector (Carlini & Wagner 2017, "Adversarial Examples Are Not Easily Detected").

A detector measured only against attacks that ignore it says little; these are the adaptive
counterparts the evaluation reports beside the plain numbers.

- :func:`density_aware_pgd` against :class:`~feint.detectors.DensityUncertaintyDetector`: Linf PGD
  (Madry et al. 2018) on ``min(margin, kappa) - weight * [margin > 0] * detector_logit``: it crosses
  the decision boundary (by up to ``kappa``), and once across it lowers the detector's logistic
  score, i.e. raises the kernel density at the (new) predicted class and lowers the MC-dropout
  uncertainty (with fresh dropout masks every step, an expectation over the randomness as Athalye
  et al. 2018 advise). Each input keeps the iterate with the lowest detector logit among those that
  fool the model.
- :func:`high_confidence_cw` against :class:`~feint.detectors.MutationDetector`: Carlini & Wagner
  L2 with a confidence margin ``kappa`` (``confidence``): inputs pushed far past the boundary, where
  random mutants agree with the model (Wang et al. 2019 discuss exactly this limit).
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, margin_loss
from feint.attacks.registry import run_attack
from feint.attacks.result import AttackResult
from feint.detectors.density import Signals, seeded
from feint.threat import ThreatModel, make_generator
from feint.validation import check_nonnegative, check_positive_int


def density_aware_pgd(
    signals: Signals,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 100,
    step_size: float | None = None,
    weight: float = 1.0,
    kappa: float = 5.0,
    mc_samples: int = 8,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = 0,
) -> AttackResult:
    """Linf PGD that fools the model and lowers the density/uncertainty detector's score (see module docs)."""
    check_positive_int(steps, "steps")
    check_positive_int(mc_samples, "mc_samples")
    check_nonnegative(weight, "weight")
    check_nonnegative(kappa, "kappa")
    threat = ThreatModel("inf", eps, bounds)
    step_size = 2.5 * eps / steps if step_size is None else step_size
    model = signals.model
    # ``seed`` fixes the random start and the MC-dropout masks of every step (the caller's random state untouched)
    masks = seeded(seed + 1, x.device) if seed is not None else nullcontext()
    with attack_run(model, x, y, threat) as run, masks:
        ball = threat.ball(run.x)
        point = threat.random_start(run.x, generator=make_generator(seed, run.x.device))
        best = run.x.clone()
        best_logit = torch.full((x.shape[0],), torch.inf, device=x.device)
        for _ in range(steps):
            point = point.detach().requires_grad_(True)
            with torch.enable_grad():
                density, logits = signals.density(point)
                uncertainty = signals.uncertainty(point, mc_samples)
                detector_logit = signals.combine(density, uncertainty)
                margin = margin_loss(logits, run.y)
                # the detector term only once the input is adversarial, so it never holds back the crossing
                gate = weight * (margin.detach() > 0).to(margin.dtype)
                objective = margin.clamp(max=kappa) - gate * detector_logit
                (grad,) = torch.autograd.grad(objective.sum(), point)
            run.model.queries += x.shape[0] * (1 + mc_samples)
            better = (margin.detach() > 0) & (detector_logit.detach() < best_logit)
            best = torch.where(better.view(-1, 1, 1, 1), point.detach(), best)
            best_logit = torch.where(better, detector_logit.detach(), best_logit)
            point = threat.project_ball(point.detach() + step_size * threat.steepest(grad), ball)
        never = torch.isinf(best_logit).view(-1, 1, 1, 1)
        return run.finish(torch.where(never, point.detach(), best))


def high_confidence_cw(model: nn.Module, x: Tensor, y: Tensor, *, kappa: float, **params: object) -> AttackResult:
    """Carlini & Wagner L2 with confidence ``kappa``: adversarial by a logit margin of at least ``kappa``."""
    return run_attack("cw", model, x, y, confidence=float(kappa), **params)
