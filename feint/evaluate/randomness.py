"""Randomized models: seeding their draws, choosing the EOT and redraw counts, and the redraw figures.

A model with test-time randomness (noise, random resizing, dropout left on) answers differently
each time; a gradient attack on one draw follows noise, and one draw of the final check is one
sample of a random verdict. Athalye, Carlini & Wagner 2018 ("Obfuscated Gradients Give a False
Sense of Security", sec. 4.2) average the gradient over draws (EOT); the verdict here is averaged
too: every final point is evaluated over ``r`` redraws, each under its own torch seed, so the
figures are reproducible. Headline: the mean accuracy over redraws; stricter: robust only if
correct in every draw; the spread: the standard deviation, min and max over redraws.
Shapes: x (N, C, H, W), y (N,); redraw verdicts (r, N).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.core import margin_loss
from feint.errors import InputError
from feint.validation import eval_mode

# Draws of the probe that size k and r; the caps keep an EOT step within a hand-set attack's budget.
PROBE_DRAWS = 8
MAX_EOT = 16
# EOT draws: enough that the averaged margin's noise is at most this share of its size.
NOISE_SHARE = 0.125


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Within the block the torch RNG (CPU, and ``device``'s if it is a GPU) starts from ``seed``;
    the caller's RNG state is restored afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
        torch.manual_seed(seed)
        yield


def redraw_seed(seed: int, draw: int) -> int:
    return (seed * 7919 + 104_729 * (draw + 1)) % 2**31


def _draws(model: nn.Module, x: Tensor, seeds: list[int]) -> Tensor:
    """(len(seeds), N, K) logits of ``model`` on ``x``, one draw per seed."""
    out = []
    with eval_mode(model), torch.no_grad():
        for s in seeds:
            with seeded(s, x.device):
                out.append(model(x))
    return torch.stack(out)


def check_seedable(model: nn.Module, x: Tensor, seed: int) -> None:
    """Two passes under the same torch seed must agree; else one clear error."""
    a, b = _draws(model, x, [seed, seed])
    if not torch.equal(a, b):
        raise InputError(
            "the model is randomized but its randomness cannot be seeded: two passes under the same torch seed "
            "differ, so its redraw figures could not be reproduced; draw its noise from torch's RNG "
            "(torch.randn, torch.rand, nn.Dropout), not numpy's global RNG, Python's random or os.urandom"
        )


def choose_draws(
    model: nn.Module, x: Tensor, y: Tensor, seed: int, *, eot_samples: int | None, redraws: int | None
) -> tuple[int, int, str]:
    """``(k, r, reason)``: EOT draws per gradient and redraws per final point, chosen from
    :data:`PROBE_DRAWS` draws of the margin on the probe inputs unless given."""
    logits = _draws(model, x, [redraw_seed(seed + 1, i) for i in range(PROBE_DRAWS)])
    margin = torch.stack([margin_loss(z, y) for z in logits])
    noise = float((margin.std(0) / margin.mean(0).abs().clamp_min(1e-12)).median())
    pred = logits.argmax(2)
    flips = float((pred != pred[0]).any(0).float().mean())
    k_auto = min(MAX_EOT, max(2, 2 ** math.ceil(math.log2(max(1.0, (noise / NOISE_SHARE) ** 2)))))
    r_auto = 16 if flips > 0.05 else 8
    k = k_auto if eot_samples is None else eot_samples
    r = r_auto if redraws is None else redraws
    why_k = f"k = {k} EOT draws per gradient" + (
        f": the margin's noise is {noise:.2f} of its size (median over {x.shape[0]} inputs, {PROBE_DRAWS} draws); "
        f"averaging k draws brings it to {noise / math.sqrt(k):.2f} (target {NOISE_SHARE:g}, at most {MAX_EOT} draws)"
        if eot_samples is None
        else " (set by the user)"
    )
    why_r = f"r = {r} redraws per final point" + (
        f": {flips:.1%} of the probe inputs change class between draws "
        f"({'more' if flips > 0.05 else 'no more'} than 5%: {r_auto} redraws)"
        if redraws is None
        else " (set by the user)"
    )
    return k, r, f"{why_k}; {why_r}"


def redraw_verdicts(model: nn.Module, points: Tensor, y: Tensor, seeds: list[int], *, batch_size: int = 512) -> Tensor:
    """(r, N) bool: whether each point is classified as ``y`` in each redraw (one torch seed per redraw)."""
    out = torch.empty((len(seeds), points.shape[0]), dtype=torch.bool, device=y.device)
    with eval_mode(model), torch.no_grad():
        for i, s in enumerate(seeds):
            with seeded(s, points.device):
                for j in range(0, points.shape[0], batch_size):
                    out[i, j : j + batch_size] = model(points[j : j + batch_size]).argmax(1) == y[j : j + batch_size]
    return out


def redraw_figures(verdicts: Tensor) -> dict[str, float]:
    """Mean accuracy over redraws, the strict figure (correct in every draw), and the spread over redraws."""
    per_draw = verdicts.float().mean(1)
    return {
        "mean": float(per_draw.mean()),
        "strict": float(verdicts.all(0).float().mean()),
        "std": float(per_draw.std()) if verdicts.shape[0] > 1 else 0.0,
        "min": float(per_draw.min()),
        "max": float(per_draw.max()),
    }


def deepen(model: nn.Module, x: Tensor, start: Tensor, y: Tensor, threat: Any, *, steps: int) -> Tensor:
    """EOT-PGD without early stopping from ``start`` inside ``threat``'s ball around ``x``: ``steps``
    steps of ``2.5 eps / steps`` on the cross-entropy of ``model`` (an EOT average). An attack that
    stops at the first fooling point leaves it on the boundary, where a random model is wrong in
    about half the draws; these steps push it past (Athalye et al. 2018 run EOT-PGD to the end)."""
    from feint.attacks.core import ascent_gradient

    budget = threat.fitted(x[0].numel())
    ball = budget.ball(x)
    size = 2.5 * budget.eps / steps
    point = start
    for _ in range(steps):
        grad, _ = ascent_gradient(model, point, y, targeted=False)
        point = budget.project_ball(point + size * budget.steepest(grad), ball)
    return point.detach()


def margins(model: nn.Module, points: Tensor, y: Tensor) -> Tensor:
    """(N,) ``z_y - max_{j != y} z_j`` of ``model`` on ``points``, without gradients."""
    with eval_mode(model), torch.no_grad():
        return -margin_loss(model(points), y)
