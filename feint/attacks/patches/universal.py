"""Universal adversarial perturbations: one small perturbation that fools a model on most inputs
(Moosavi-Dezfooli, Fawzi, Fawzi & Frossard 2017, "Universal adversarial perturbations").

Their Algorithm 1 passes over the data; for each input ``x_i`` that ``v`` does not yet fool
(``k(x_i + v) = k(x_i)``) it adds the smallest perturbation that moves ``x_i + v`` across the
boundary, then projects ``v`` back onto the ``xi``-ball of the ``norm`` (``P_{p, xi}``); it stops
once the fooling rate on the data reaches ``1 - delta``. Here the inputs are taken a batch at a
time: the inputs of a batch that ``v`` does not fool yet give one step of steepest ascent on their mean loss
(the stochastic form of Shafahi et al. 2020, "Universal Adversarial Training"), then the same
projection (:class:`~feint.threat.ThreatModel`). Targeted: every input towards ``target``.
Shapes: x (N, C, H, W), y (N,), the perturbation (C, H, W).
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from feint.attacks.core import ascent_gradient, eval_mode
from feint.attacks.patches.apply import apply_universal
from feint.attacks.patches.checks import check_fit_data, target_labels
from feint.attacks.patches.result import PatternResult
from feint.attacks.result import predict_logits
from feint.progress import bar
from feint.threat import ThreatModel, make_generator
from feint.validation import Bounds, check_fraction, check_nonnegative


def fooled(model: nn.Module, x: Tensor, v: Tensor, reference: Tensor, target: int | None, bounds: Bounds) -> Tensor:
    """(N,) bool: ``v`` changes the prediction from ``reference`` (untargeted) or makes it ``target``."""
    pred = predict_logits(model, apply_universal(x, v, bounds)).argmax(1)
    return pred == target if target is not None else pred != reference


def universal_perturbation(
    model: nn.Module,
    x: Tensor,
    y: Tensor | None = None,
    *,
    eps: float,
    norm: str = "inf",
    target: int | None = None,
    passes: int = 10,
    batch_size: int = 32,
    step_size: float | None = None,
    delta: float = 0.2,
    bounds: Bounds = (0.0, 1.0),
    seed: int | None = None,
    progress: bool = False,
) -> PatternResult:
    """A perturbation of ``norm`` at most ``eps`` that fools ``model`` on as many of ``x`` as it can:
    at most ``passes`` passes over ``x`` in shuffled batches of ``batch_size``, stopping once the
    fooling rate on ``x`` reaches ``1 - delta``; ``step_size`` defaults to ``eps / 8``.

    Untargeted, "fooled" is Moosavi-Dezfooli et al.'s: the prediction differs from the one on the
    clean input (``y`` is only checked); targeted, the prediction is ``target``."""
    t0 = time.perf_counter()
    labels_given = y if y is not None else predict_logits(model, x[:1]).argmax(1).new_zeros(x.shape[0])
    classes = check_fit_data(model, x, labels_given, bounds=bounds, steps=passes, batch_size=batch_size)
    check_nonnegative(eps, "eps")
    check_fraction(delta, "delta")
    lo, hi = bounds
    # the perturbation lives in [-(hi - lo), hi - lo]: clipping to those bounds never binds
    ball = ThreatModel(norm, eps, (lo - hi, hi - lo))
    size = eps / 8 if step_size is None else step_size
    check_nonnegative(size, "step_size")
    gen = make_generator(seed, x.device)
    with eval_mode(model):
        reference = predict_logits(model, x).argmax(1)
        wanted = target_labels(reference, target, classes)
        v = torch.zeros_like(x[:1])
        history: list[float] = []
        rows = x.shape[0]
        with bar(progress, total=passes, desc="universal") as shown:
            for _ in range(passes):
                order = torch.randperm(x.shape[0], generator=gen, device=x.device)
                for start in range(0, x.shape[0], batch_size):
                    pick = order[start : start + batch_size]
                    grad, logits = ascent_gradient(
                        model, apply_universal(x[pick], v, bounds), wanted[pick], targeted=target is not None
                    )
                    rows += 2 * pick.numel()
                    hit = logits.argmax(1) == target if target is not None else logits.argmax(1) != reference[pick]
                    keep = (~hit).to(grad.dtype).view(-1, *([1] * (grad.dim() - 1)))
                    if not bool(keep.any()):
                        continue
                    step = ball.steepest((grad * keep).sum(0, keepdim=True))
                    v = ball.project(v + size * step, torch.zeros_like(v))
                rate = float(fooled(model, x, v, reference, target, bounds).float().mean())
                rows += x.shape[0]
                history.append(rate)
                shown.update(1)
                if rate >= 1 - delta:
                    break
    seconds = time.perf_counter() - t0
    return PatternResult(
        "universal", v[0].detach(), None, None, target, bounds, history, rows, seconds, norm=ball.norm, eps=float(eps)
    )
