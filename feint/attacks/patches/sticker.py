"""Stickers: one masked pattern that fools a model on every image of an object, robust to how it
is photographed (Eykholt et al. 2018, "Robust Physical-World Attacks on Deep Learning Visual
Classification", RP2).

RP2 minimises, over a perturbation ``delta`` confined to a mask ``M`` shaped like stickers,

    lambda ||M delta||_p + NPS(M delta) + E_{x_i ~ X, t ~ T} J(f(x_i + t(M delta)), y*)

over images ``X`` of one object and transformations ``T`` (viewpoint, lighting, the print and
photo). Here the sticker is opaque: the image under the mask is replaced, ``(1 - M) x + M s``
(the set that ``x + M delta`` reaches once clipped to the bounds), and the whole stickered image
goes through ``transform`` (default: :func:`~feint.transforms.print_and_photo`: perspective,
rotation and scale, blur, brightness, contrast, gamma, colour shift, noise, JPEG). The
non-printability score (Sharif et al. 2016) pulls the sticker's colours towards ``palette`` and
total variation keeps it smooth; the size term is the mask itself. Targeted (``target``: the
class every stickered image should be taken for) or untargeted. Shapes: x (N, C, H, W), y (N,),
mask (1, H, W), the sticker (C, H, W).
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.attacks.patches.apply import apply_sticker
from feint.attacks.patches.checks import check_fit_data, target_labels
from feint.attacks.patches.masks import check_mask
from feint.attacks.patches.optimise import train_pattern
from feint.attacks.patches.printability import check_palette, default_palette, non_printability, total_variation
from feint.attacks.patches.result import PatternResult
from feint.threat import make_generator
from feint.transforms import Transform, print_and_photo
from feint.validation import Bounds, check_nonnegative


def _smoothness(sticker: Tensor, mask: Tensor) -> Tensor:
    """Total variation of the sticker inside the mask (the mask's own edges do not count)."""
    return total_variation(sticker * mask + (sticker * (1 - mask)).detach())


def sticker(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    mask: Tensor,
    target: int | None = None,
    transform: Transform | None = None,
    palette: Tensor | None = None,
    printability: float = 1.0,
    smoothness: float = 0.05,
    steps: int = 300,
    batch_size: int = 32,
    samples: int = 4,
    step_size: float = 0.05,
    bounds: Bounds = (0.0, 1.0),
    seed: int | None = None,
    progress: bool = False,
) -> PatternResult:
    """An RP2 sticker inside ``mask`` for the images ``x`` (one object or class), trained for ``steps``
    Adam steps of ``batch_size`` images x ``samples`` draws of ``transform``; ``printability`` and
    ``smoothness`` weigh the non-printability score (against ``palette``, (P, C) in [0, 1], default
    :func:`~feint.attacks.patches.printability.default_palette`) and total variation."""
    t0 = time.perf_counter()
    classes = check_fit_data(model, x, y, bounds=bounds, steps=steps, batch_size=batch_size, samples=samples)
    check_nonnegative(printability, "printability weight")
    check_nonnegative(smoothness, "smoothness weight")
    check_nonnegative(step_size, "step_size")
    cover = check_mask(mask, int(x.shape[-2]), int(x.shape[-1])).to(x)
    colours = check_palette(palette if palette is not None else default_palette(int(x.shape[1])), int(x.shape[1]))
    chain = transform if transform is not None else print_and_photo()
    chain.check_size(int(x.shape[-2]), int(x.shape[-1]))
    lo, hi = bounds
    labels = target_labels(y, target, classes)
    gen = make_generator(seed, x.device)
    start = lo + (hi - lo) * torch.rand(x.shape[1:], generator=gen, device=x.device, dtype=x.dtype)

    def render(s: Tensor, batch: Tensor, g: torch.Generator | None) -> Tensor:
        return chain(apply_sticker(batch, s, cover), generator=g, bounds=bounds)

    def penalty(s: Tensor) -> Tensor:
        unit = (s - lo) / (hi - lo)
        return printability * non_printability(unit, colours.to(x), cover) + smoothness * _smoothness(unit, cover)

    with eval_mode(model):
        pattern, history, rows = train_pattern(
            model, x, labels, start, render, targeted=target is not None, steps=steps, batch_size=batch_size,
            samples=samples, step_size=step_size, bounds=bounds, generator=gen, penalty=penalty,
            progress=progress, desc="sticker",
        )  # fmt: skip
    pattern = pattern * cover + lo * (1 - cover)  # nothing outside the mask
    return PatternResult("sticker", pattern, cover, None, target, bounds, history, rows, time.perf_counter() - t0)
