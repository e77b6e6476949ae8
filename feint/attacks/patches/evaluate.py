"""How often a trained pattern succeeds on images it has not seen, checked outside the attack.

An input counts when the attack has something to do on it: untargeted, the model classifies it
correctly without the pattern; targeted, its label is not the target. The pattern succeeds on a
counted input when the model's prediction on the patterned (and, with ``transform``, transformed)
image is the target, or is not the label. A patch is put at ``draws`` random places per input;
every draw counts once. The baseline is a random pattern of the same kind, area or norm: a
uniform random patch or sticker, or noise on the sphere of the norm (Moosavi-Dezfooli et al.
2017 compare against random noise of the same norm). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from feint.attacks.patches.result import PatternResult
from feint.attacks.result import predict_logits
from feint.threat import flat_norm, make_generator
from feint.transforms import Transform


def counted(model: nn.Module, x: Tensor, y: Tensor, target: int | None) -> Tensor:
    """(N,) bool: the inputs the success rate counts (see the module docstring)."""
    if target is not None:
        return y != target
    return predict_logits(model, x).argmax(1) == y


def hits(model: nn.Module, images: Tensor, y: Tensor, target: int | None) -> Tensor:
    """(N,) bool: the model's prediction on ``images`` is ``target`` (targeted) or not ``y``."""
    pred = predict_logits(model, images).argmax(1)
    return pred == target if target is not None else pred != y


def success_draws(
    model: nn.Module,
    result: PatternResult,
    x: Tensor,
    y: Tensor,
    *,
    draws: int = 1,
    seed: int = 0,
    area: float | None = None,
    transform: Transform | None = None,
) -> Tensor:
    """(D, N) bool: success of ``result`` on each input for each of ``draws`` seeded draws of the
    placement (a patch, at ``area`` when given) and of ``transform``."""
    out = []
    for d in range(draws):
        gen = make_generator(seed * 7919 + d, x.device)
        images = result.apply(x, generator=gen, area=area)
        if transform is not None:
            images = transform(images, generator=gen, bounds=result.bounds)
        out.append(hits(model, images, y, result.target))
    return torch.stack(out)


def rate(draws: Tensor, mask: Tensor) -> float | None:
    """The mean of ``draws`` (D, N) over the inputs in ``mask`` (N,); None when none is counted."""
    if not bool(mask.any()):
        return None
    return float(draws[:, mask].float().mean())


def random_like(result: PatternResult, *, seed: int = 0) -> PatternResult:
    """A random pattern of the same kind and size: uniform colours for a patch or a sticker (inside
    its mask), noise on the sphere of the same norm for a universal perturbation (Linf: every pixel
    +-eps; L2: a random direction of length eps)."""
    gen = make_generator(seed, result.pattern.device)
    lo, hi = result.bounds
    pattern = result.pattern
    noise = torch.rand(pattern.shape, generator=gen, device=pattern.device, dtype=pattern.dtype)
    if result.kind == "universal":
        eps = float(result.eps or 0.0)
        if result.norm == "inf":
            return replace(result, pattern=eps * (noise * 2 - 1).sign())
        direction = torch.randn(pattern.shape, generator=gen, device=pattern.device, dtype=pattern.dtype)
        return replace(result, pattern=direction / flat_norm(direction[None], "2").clamp_min(1e-12) * eps)
    random = lo + (hi - lo) * noise
    if result.mask is not None:
        random = random * result.mask + lo * (1 - result.mask)
    return replace(result, pattern=random)
