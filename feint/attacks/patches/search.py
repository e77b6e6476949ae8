"""A patch made for one input: the worst case of a patch threat model, per input.

Where a universal patch (Brown et al. 2017) is one pattern for every image, the threat model
"a square covering ``area`` of the image, anywhere, with any content" lets the adversary pick the
content for each input: for each of ``placements`` random positions (the same for the batch's
inputs at that draw, a different one per draw), PGD on the content inside the square (values
free in the bounds; sign steps as in Madry et al. 2018), from a random start. Only the inputs
still classified correctly are attacked at the next placement. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import ascent_gradient
from feint.attacks.patches.apply import apply_sticker
from feint.attacks.patches.masks import patch_side
from feint.attacks.result import predict_logits
from feint.validation import Bounds


def _square_masks(
    n: int, side: int, height: int, width: int, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """(n, 1, H, W) masks, each a ``side`` x ``side`` square at a random position inside the image."""
    top = torch.randint(height - side + 1, (n,), generator=generator, device=device)
    left = torch.randint(width - side + 1, (n,), generator=generator, device=device)
    rows = torch.arange(height, device=device)[None, :, None]
    cols = torch.arange(width, device=device)[None, None, :]
    inside = (rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
    inside = inside & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side)
    return inside[:, None].float()


def patch_search(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    area: float,
    placements: int = 4,
    steps: int = 20,
    step_size: float = 0.25,
    bounds: Bounds = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """(N,) bool: inputs of ``x`` that no per-input patch of ``area`` found here makes misclassified
    (correct clean inputs only can be True); ``step_size`` is a fraction of the bounds' width."""
    height, width = int(x.shape[-2]), int(x.shape[-1])
    side = patch_side(area, height, width)
    lo, hi = bounds
    robust = predict_logits(model, x).argmax(1) == y
    for _ in range(placements):
        idx = torch.nonzero(robust).flatten()
        if idx.numel() == 0:
            break
        xs, ys = x[idx], y[idx]
        mask = _square_masks(idx.numel(), side, height, width, generator, x.device).to(x)
        content = lo + (hi - lo) * torch.rand(xs.shape, generator=generator, device=x.device, dtype=x.dtype)
        for _ in range(steps):
            grad, _ = ascent_gradient(model, apply_sticker(xs, content, mask), ys, targeted=False)
            content = (content + step_size * (hi - lo) * grad.sign()).clamp(lo, hi)
        fooled = predict_logits(model, apply_sticker(xs, content, mask)).argmax(1) != ys
        robust[idx[fooled]] = False
    return robust
