"""The redraw figures of a randomized model: every final point evaluated over seeded redraws.

After the attacks (through the EOT average, :class:`feint.attacks.eot.ExpectationOverDraws`), each
input's candidate point at each eps is its worst-case point where an attack broke it, else the
attacks' point nearest to breaking it (:func:`feint.capabilities.audit.runner.keep_near`), else the clean
input; beside it, EOT-PGD without early stopping climbs two expected losses from random starts
(:func:`deepen_points`), and the candidate with the smallest EOT margin is evaluated over the ``r``
redraws of :mod:`feint.capabilities.audit.randomness` (Athalye, Carlini & Wagner 2018).
Shapes: x (N, C, H, W), y (N,)"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.eot import ExpectationOverDraws
from feint.capabilities.audit.adaptive import RECORD, Adaptation
from feint.capabilities.audit.randomness import deepen, margins, redraw_figures, redraw_seed, redraw_verdicts
from feint.data.rows import whole

# The final EOT-PGD of a randomized model (Athalye, Carlini & Wagner 2018, sec. 4.2: EOT-PGD run to the
# end): steps, draws per step (at least), and the expected losses it climbs, each from its own random
# start in the ball, without early stopping. The attacks before it stop at the first point that fools
# the EOT average, on the boundary, where a random model is wrong in about half the draws; from their
# points the push leaves more robust than from random starts: on a fast-AT Fashion-MNIST CNN under
# Gaussian noise (sigma 0.1, 100 inputs, eps 0.05 / 0.1, 16 draws, 100 steps), 63.1 / 30.7% from the
# attacks' points, 63.0 / 28.9% from random starts (the better of the margin and the cross-entropy per
# input, chosen on separate draws; either alone: 63.1 / 29.7% and 64.1 / 30.0%).
DEEPEN_STEPS = 80
DEEPEN_DRAWS = 12
DEEPEN_LOSSES = ("margin", "ce")


def candidates(setup: Any, state: Any, e: int) -> Tensor:
    """(N, C, H, W) each input's candidate point at eps index ``e``: the worst-case point where an attack
    broke it, else the attacks' point nearest to breaking it (kept on a randomized model), else the clean input."""
    points = whole(setup.x).clone()  # a streamed source's rows too: the redraws of a random model read every input
    broken = (state.broken_by[e] >= 0).nonzero().squeeze(1)
    if broken.numel():
        points[broken] = state.worst_points(e, broken).to(points.device, points.dtype)
    near = state.tensors.get("near/margin")
    if near is not None:
        kept = (torch.isfinite(near[e]) & (state.broken_by[e] < 0)).nonzero().squeeze(1)
        if kept.numel():
            points[kept] = state.points.read(e, kept).to(points.device, points.dtype)
    return points


def evaluate_redraws(setup: Any, state: Any, adaptation: Adaptation) -> dict[int, Tensor]:
    """Evaluate every eps's final points over the chosen redraws: the worst-case point where an attack
    broke the input, else the attacks' point nearest to breaking it (the smallest margin of the EOT
    logits, :func:`feint.capabilities.audit.runner.keep_near`), else the clean input; keep the figures in the state.
    Returns the final points per eps index (none when there was nothing to evaluate)."""
    rec = state.records[RECORD]
    randomized = rec["section"].get("randomized")
    if not randomized or "accuracy_mean" in randomized or adaptation.original is None or state.points is None:
        return {}
    r, seed = int(randomized["redraws"]), int(randomized["seed"])
    seeds = [redraw_seed(seed, i) for i in range(r)]
    figures: dict[str, list[float]] = {k: [] for k in ("mean", "strict", "std", "min", "max")}
    per_redraw = []
    deep_rows = [0, 0]
    final = {}
    for e in range(len(setup.eps)):
        points = candidates(setup, state, e)
        if isinstance(adaptation.model, ExpectationOverDraws) and setup.eps[e] > 0:
            draws = max(adaptation.model.draws, DEEPEN_DRAWS)
            points, deepened = deepen_points(setup, adaptation.model.model, draws, points, e)
            deep_rows[0] += deepened[0]
            deep_rows[1] += deepened[1]
        final[e] = points
        verdicts = redraw_verdicts(adaptation.original, points, setup.y, seeds)
        for k, v in redraw_figures(verdicts).items():
            figures[k].append(v)
        per_redraw.append([float(a) for a in verdicts.float().mean(1)])
    randomized.update({f"accuracy_{k}": v for k, v in figures.items()})
    randomized["per_redraw"] = per_redraw
    randomized["deepening"] = {
        "steps": DEEPEN_STEPS,
        "losses": [{"ce": "cross-entropy"}.get(loss, loss) for loss in DEEPEN_LOSSES],
        "draws": max(adaptation.model.draws, DEEPEN_DRAWS) if isinstance(adaptation.model, ExpectationOverDraws) else 0,
        "forward_rows": deep_rows[0],
        "backward_rows": deep_rows[1],
    }
    return final


def deepen_points(setup: Any, model: nn.Module, draws: int, points: Tensor, e: int) -> tuple[Tensor, tuple[int, int]]:
    """Per input, the best of its point (the attacks', or the clean input) and :data:`DEEPEN_STEPS` EOT-PGD
    steps on each of :data:`DEEPEN_LOSSES` from a seeded random start in the ball, over ``draws``
    draws of ``model`` (the randomized model, or its BPDA twin) per step
    (:func:`feint.capabilities.audit.randomness.deepen`): the one with the smallest margin of the EOT logits
    (chosen on the EOT draws, not on the redraws that measure it); and the forward and backward rows
    it cost."""
    from feint.attacks.core import QueryCounter
    from feint.threat import ThreatModel, make_generator

    # every input: the clean verdict of a random model is one draw, and an input it got wrong there can
    # be right in most redraws
    rows = torch.arange(setup.x.shape[0], device=setup.x.device)
    counted = QueryCounter(model)
    average = ExpectationOverDraws(counted, draws)
    threat = ThreatModel(setup.norm, setup.eps[e], setup.bounds)
    budget = threat.fitted(setup.x[0].numel())
    gen = make_generator(redraw_seed(setup.seed, 1_000 + e), setup.x.device)
    out = points.clone()
    for idx in rows.split(setup.batch_size):
        x, y, best = setup.x[idx], setup.y[idx], points[idx]
        best_margin = margins(average, best, y)
        for loss in DEEPEN_LOSSES:
            start = budget.random_start(x, generator=gen)
            deep = deepen(counted, x, start, y, threat, steps=DEEPEN_STEPS, draws=draws, loss=loss)
            deep_margin = margins(average, deep, y)
            take = deep_margin < best_margin
            best = torch.where(take.view(-1, *([1] * (x.dim() - 1))), deep, best)
            best_margin = torch.where(take, deep_margin, best_margin)
        out[idx] = best
    return out, (counted.forward_rows, counted.backward_rows)
