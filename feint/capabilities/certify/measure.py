"""Certifying many inputs in groups, each group's noise from its own seed, saved as it finishes.

A group holds as many inputs as fill about :data:`CHECKPOINT_PASSES` passes of ``batch_size`` rows
with their ``n0 + n`` draws each (at least one input, at most ``batch_size``): the state is saved
that often, and the passes stay full (:meth:`feint.defenses.smoothing.Smoothed.counts`).
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint.capabilities.certify.state import load_groups, save_groups
from feint.defenses.smoothing import Smoothed
from feint.oracles.frozen import in_use as frozen_in_use
from feint.progress import bar, milestone
from feint.validation import eval_mode

CHECKPOINT_PASSES = 64
FROZEN = "a frozen copy of the model (TorchScript, checked to give its logits; feint/oracles/frozen.py)"
PLAIN = "the model itself, without gradients (channels_last on the CPU)"


@dataclass(frozen=True)
class Certified:
    """Per input (N,): CERTIFY's class (-1: abstain), radius (NaN: abstain), lower bound of the class's
    probability, the majority vote of the ``n`` draws and whether the base model (no noise) is right;
    ``seconds`` spent certifying (runs before a resume included), the groups found already done and how
    this run passed the noisy draws through the model (``forward``, in words)."""

    prediction: Tensor
    radius: Tensor
    p_lower: Tensor
    vote: Tensor
    base_correct: Tensor
    seconds: float
    resumed: int
    notes: list[str]
    forward: str = "the model itself"


def group_size(smoothed: Smoothed, n: int) -> int:
    """Inputs per group (saved together): about :data:`CHECKPOINT_PASSES` full passes of draws."""
    rows = CHECKPOINT_PASSES * smoothed.batch_size // (smoothed.n0 + smoothed.n)
    return max(1, min(rows, smoothed.batch_size, n))


def group_seed(seed: int, group: int) -> int:
    return (seed * 1_000_003 + 7_919 * (group + 1)) % 2**63


def _certify_group(smoothed: Smoothed, x: Tensor, y: Tensor, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    answers = smoothed.certify(x, generator=gen)
    with eval_mode(smoothed.base), torch.no_grad():
        base = smoothed.base(x).argmax(1) == y
    return {
        "prediction": answers.prediction.tolist(),
        "radius": [None if math.isnan(r) else r for r in answers.radius.tolist()],
        "p_lower": answers.p_lower.tolist(),
        "vote": answers.vote.tolist(),
        "base_correct": base.tolist(),
        "seconds": time.perf_counter() - started,
    }


def certify_inputs(
    smoothed: Smoothed, x: Tensor, y: Tensor, *, seed: int, fp: str, out: str | Path | None, resume: bool,
    progress: bool,
) -> Certified:  # fmt: skip
    """CERTIFY (Cohen et al. 2019) on every input, group by group; with ``out`` each finished group is
    saved, and one a killed run saved (``resume``, same fingerprint ``fp``) is not certified again."""
    size = group_size(smoothed, x.shape[0])
    groups, note = load_groups(out, fp, resume)
    resumed = len(groups)
    starts = range(0, x.shape[0], size)
    with bar(progress, total=len(starts), initial=resumed, desc="certify", unit="group") as shown:
        for g, start in enumerate(starts):
            if g in groups:
                continue
            groups[g] = _certify_group(smoothed, x[start : start + size], y[start : start + size], group_seed(seed, g))
            if out is not None:
                save_groups(out, fp, groups)
            shown.update(1)
    milestone(progress, f"certify: {x.shape[0]} inputs certified ({resumed} of {len(starts)} groups resumed)")
    ordered = [groups[g] for g in range(len(starts))]

    def joined(key: str, dtype: torch.dtype) -> Tensor:
        values = [math.nan if v is None else v for group in ordered for v in group[key]]
        return torch.tensor(values, dtype=dtype, device=y.device)

    return Certified(
        prediction=joined("prediction", torch.long),
        radius=joined("radius", torch.float64),
        p_lower=joined("p_lower", torch.float64),
        vote=joined("vote", torch.long),
        base_correct=joined("base_correct", torch.bool),
        seconds=sum(float(group["seconds"]) for group in ordered),
        resumed=resumed,
        notes=[note] if note else [],
        forward=FROZEN if frozen_in_use(smoothed.base) else PLAIN,
    )
