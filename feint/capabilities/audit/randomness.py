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
# EOT draws: enough that the averaged margin's noise is at most this share of its size, and that the
# averaged gradient's noise (its squared norm) is at most this share of the expected gradient's: then
# the k-draw gradient lies within a cosine of about 0.9 of the expected one, the direction EOT needs
# (Athalye, Carlini & Wagner 2018, sec. 4.2: EOT estimates the gradient of the expectation). On a
# fast-AT CNN under Gaussian noise of sigma 0.1, one draw's gradient noise is ~8x the expected
# gradient's squared norm while the margin's noise is under 1/5 of its size: the margin alone asks
# for 2 draws, where the gradient needs the cap. There (benchmarks/audit_adaptive.py, 100 inputs) k = 16
# gave 63.9 / 31.3% at eps 0.05 / 0.1 for 18,700 rows per input; k = 8 63.9 / 32.3% for 31,200 (its
# noisier gauges escalated more).
NOISE_SHARE = 0.125
GRADIENT_NOISE = 0.25


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


def _draws_with_gradients(model: nn.Module, x: Tensor, y: Tensor, seeds: list[int]) -> tuple[Tensor, Tensor]:
    """(len(seeds), N, K) logits and (len(seeds), N, D) input gradients of the margin (zero where the
    output leaves autograd), one draw per seed."""
    logits, grads = [], []
    with eval_mode(model), torch.enable_grad():
        for s in seeds:
            with seeded(s, x.device):
                xs = x.detach().requires_grad_(True)
                z = model(xs)
                # no gradient (a step outside autograd): no gradient noise to measure
                g = torch.autograd.grad(margin_loss(z, y).sum(), xs)[0] if z.requires_grad else torch.zeros_like(xs)
            logits.append(z.detach())
            grads.append(g.flatten(1))
    return torch.stack(logits), torch.stack(grads)


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
    logits, grads = _draws_with_gradients(model, x, y, [redraw_seed(seed + 1, i) for i in range(PROBE_DRAWS)])
    margin = torch.stack([margin_loss(z, y) for z in logits])
    noise = float((margin.std(0) / margin.mean(0).abs().clamp_min(1e-12)).median())
    pred = logits.argmax(2)
    flips = float((pred != pred[0]).any(0).float().mean())
    # One draw's gradient noise relative to the expected gradient, per input: the summed per-coordinate
    # variance over the squared norm of the mean, less the mean's own share of that variance.
    spread = grads.var(0).sum(1)
    signal = (grads.mean(0).pow(2).sum(1) - spread / PROBE_DRAWS).clamp_min(1e-12)
    gradient_noise = float((spread / signal).median())
    need = max((noise / NOISE_SHARE) ** 2, gradient_noise / GRADIENT_NOISE, 1.0)
    k_auto = min(MAX_EOT, max(2, 2 ** math.ceil(math.log2(need))))
    r_auto = 16 if flips > 0.05 else 8
    k = k_auto if eot_samples is None else eot_samples
    r = r_auto if redraws is None else redraws
    why_k = f"k = {k} EOT draws per gradient" + (
        f": the margin's noise is {noise:.2f} of its size and one draw's gradient noise {gradient_noise:.2f} of "
        f"the expected gradient's squared norm (medians over {x.shape[0]} inputs, {PROBE_DRAWS} draws); averaging "
        f"k draws brings them to {noise / math.sqrt(k):.2f} and {gradient_noise / k:.2f} (targets {NOISE_SHARE:g} "
        f"and {GRADIENT_NOISE:g}, at most {MAX_EOT} draws)"
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


def deepen(
    model: nn.Module, x: Tensor, start: Tensor, y: Tensor, threat: Any, *, steps: int, draws: int, loss: str
) -> Tensor:
    """EOT-PGD without early stopping from ``start`` inside ``threat``'s ball around ``x``: ``steps``
    steps of ``2.5 eps / steps`` on ``loss`` ("margin" or "ce") of ``model`` (one random draw per
    pass) averaged over ``draws`` draws per step: the expected loss of Athalye et al. 2018, not the
    loss of the expected logits. An attack that stops at the first fooling point leaves it on the
    boundary, where a random model is wrong in about half the draws; these steps push it past."""
    from feint.attacks.core import objective

    budget = threat.fitted(x[0].numel())
    ball = budget.ball(x)
    size = 2.5 * budget.eps / steps
    labels = y.repeat(draws)
    point = start.detach()
    for _ in range(steps):
        point.requires_grad_(True)
        with torch.enable_grad():
            logits = model(point.repeat(draws, *([1] * (point.dim() - 1))))
            value = objective(logits, labels, targeted=False, loss=loss).sum() / draws
            (grad,) = torch.autograd.grad(value, point)
        point = budget.project_ball(point.detach() + size * budget.steepest(grad), ball).detach()
    return point


def margins(model: nn.Module, points: Tensor, y: Tensor) -> Tensor:
    """(N,) ``z_y - max_{j != y} z_j`` of ``model`` on ``points``, without gradients."""
    with eval_mode(model), torch.no_grad():
        return -margin_loss(model(points), y)
