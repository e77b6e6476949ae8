"""Crafting adversarial inputs for fitting and evaluating detectors, and their noisy counterparts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.registry import get_attack, run_attack
from feint.attacks.result import AttackResult


def craft(
    name: str, model: nn.Module, x: Tensor, y: Tensor, *, eps: float, seed: int, **params: object
) -> AttackResult:
    """Run attack ``name``; ``eps`` and ``seed`` are passed to the attacks that take them."""
    accepted = get_attack(name).parameters()
    options = dict(params)
    if "eps" in accepted:
        options.setdefault("eps", eps)
    if "seed" in accepted:
        options.setdefault("seed", seed)
    return run_attack(name, model, x, y, **options)


def noisy_like(x: Tensor, delta: Tensor, *, seed: int, bounds: tuple[float, float] = (0.0, 1.0)) -> Tensor:
    """``x`` plus Gaussian noise of the same per-input L2 size as ``delta``, clipped to ``bounds``:
    inputs as far from the clean ones as the adversarial inputs, but in a random direction
    (Feinman et al. 2017's noisy negatives)."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    size = delta.flatten(1).norm(dim=1) / noise.flatten(1).norm(dim=1).clamp_min(1e-12)
    return (x + noise * size.view(-1, *([1] * (x.dim() - 1)))).clamp(*bounds)
