"""The adversarial patch: one image-agnostic patch that fools a model wherever it is put (Brown,
Mané, Roy, Abadi & Gilmer 2017, "Adversarial Patch").

The patch ``p`` is trained to maximise ``E_{x ~ X, t ~ T, l ~ L} log Pr(y* | A(p, x, l, t))``
(targeted; untargeted: minimise the true class's) where ``A`` pastes the patch at location ``l``
after rotating and scaling it (``t``), all drawn at random per image
(:mod:`feint.attacks.patches.placement`); ``transform`` (e.g. the print-and-photo pipeline) may
follow. Brown et al. report the success rate against the fraction of the image the patch
covers: a patch trained at ``area`` is evaluated at other areas by scaling it
(:meth:`~feint.attacks.patches.result.PatternResult.apply`). Shapes: x (N, C, H, W), y (N,),
the patch (C, s, s) with ``s`` the side that covers ``area``.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.attacks.patches.apply import apply_patch
from feint.attacks.patches.checks import check_fit_data, target_labels
from feint.attacks.patches.masks import patch_side
from feint.attacks.patches.optimise import train_pattern
from feint.attacks.patches.placement import Placement
from feint.attacks.patches.result import PatternResult
from feint.threat import make_generator
from feint.transforms import Transform
from feint.validation import Bounds, check_nonnegative


def adversarial_patch(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    area: float,
    target: int | None = None,
    placement: Placement | None = None,
    transform: Transform | None = None,
    steps: int = 300,
    batch_size: int = 32,
    samples: int = 4,
    step_size: float = 0.05,
    bounds: Bounds = (0.0, 1.0),
    seed: int | None = None,
    progress: bool = False,
) -> PatternResult:
    """A square patch covering ``area`` (a fraction in (0, 1)) of the images ``x``, trained for
    ``steps`` Adam steps of ``batch_size`` images x ``samples`` random placements (``placement``,
    default :class:`~feint.attacks.patches.placement.Placement`), then ``transform`` if given."""
    t0 = time.perf_counter()
    classes = check_fit_data(model, x, y, bounds=bounds, steps=steps, batch_size=batch_size, samples=samples)
    check_nonnegative(step_size, "step_size")
    height, width = int(x.shape[-2]), int(x.shape[-1])
    side = patch_side(area, height, width)
    where = placement if placement is not None else Placement()
    if transform is not None:
        transform.check_size(height, width)
    labels = target_labels(y, target, classes)
    gen = make_generator(seed, x.device)
    lo, hi = bounds
    # from mid grey: a random start can leave a small patch's pixels in a poor basin (black where white fools)
    start = torch.full((int(x.shape[1]), side, side), (lo + hi) / 2, device=x.device, dtype=x.dtype)

    def render(p: Tensor, batch: Tensor, g: torch.Generator | None) -> Tensor:
        pasted = apply_patch(batch, p, where, g)
        return pasted if transform is None else transform(pasted, generator=g, bounds=bounds)

    with eval_mode(model):
        pattern, history, rows = train_pattern(
            model, x, labels, start, render, targeted=target is not None, steps=steps, batch_size=batch_size,
            samples=samples, step_size=step_size, bounds=bounds, generator=gen, progress=progress, desc="patch",
        )  # fmt: skip
    return PatternResult("patch", pattern, None, where, target, bounds, history, rows, time.perf_counter() - t0)
