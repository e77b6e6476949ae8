"""Train the pattern on one part of the inputs and measure it on the other (the held-out split).

The inputs (of the ``source`` class only, when given) are split at random (seeded): the pattern
is trained on the fit part and every figure is measured on the held-out part, checked outside the
attack (:mod:`feint.attacks.patches.evaluate`): the success rate beside a random pattern of the
same area or norm, the success against area (a patch scaled, Brown et al. 2017) or against norm
(a universal perturbation scaled, Moosavi-Dezfooli et al. 2017), the success under each step of
the print-and-photo pipeline and the whole chain with its destruction rate (among the
(input, draw) pairs the pattern fools untransformed, the fraction the transformation undoes;
Kurakin et al. 2016's measure, read for a targeted or untargeted pattern), and the printability
(Sharif et al. 2016). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.patches import (
    PatternResult,
    adversarial_patch,
    default_palette,
    make_mask,
    non_printability,
    palette_distance,
    sticker,
    universal_perturbation,
)
from feint.attacks.patches.evaluate import counted, random_like, rate, success_draws
from feint.attacks.result import predict_logits
from feint.capabilities.patch.settings import NORM_FRACTIONS, PatchSettings
from feint.errors import InputError
from feint.progress import milestone
from feint.transforms import Compose
from feint.validation import Bounds

PIPELINE = "pipeline"
GALLERY = 12


@dataclass(frozen=True)
class PatchOutcome:
    """The trained pattern, the split and the measured figures (JSON-safe sections)."""

    result: PatternResult
    fit_ids: Tensor
    held_ids: Tensor
    figures: dict[str, Any]
    gallery: dict[str, Tensor] = field(repr=False)
    seconds: float


def split(n: int, held_out: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded ids of the fit part and the held-out part (each at least one input)."""
    if n < 2:
        raise InputError(f"a pattern needs inputs to train on and others to measure on: give at least 2, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = min(max(1, round(n * held_out)), n - 1)
    return order[cut:].sort().values, order[:cut].sort().values


def _train(
    model: nn.Module, x: Tensor, y: Tensor, s: PatchSettings, mask: Tensor | None, palette: Tensor,
    pipeline: Compose, bounds: Bounds, progress: bool,
) -> PatternResult:  # fmt: skip
    common: dict[str, Any] = {"target": s.target, "batch_size": s.batch_size, "bounds": bounds, "seed": s.seed}
    if s.kind == "universal":
        assert s.eps is not None
        return universal_perturbation(model, x, y, eps=s.eps, norm=s.norm, passes=s.steps, progress=progress, **common)
    if s.kind == "patch":
        return adversarial_patch(
            model, x, y, area=s.area, steps=s.steps, samples=s.samples, progress=progress, **common
        )
    assert mask is not None
    return sticker(
        model, x, y, mask=mask, transform=pipeline, palette=palette, printability=s.printability,
        smoothness=s.smoothness, steps=s.steps, samples=s.samples, progress=progress, **common,
    )  # fmt: skip


def _curve(
    model: nn.Module, result: PatternResult, baseline: PatternResult, x: Tensor, y: Tensor, ok: Tensor, s: PatchSettings
) -> dict[str, Any]:
    """Success (and the random pattern's) against area (patch) or norm (universal); one point for a sticker."""
    if s.kind == "universal":
        assert s.eps is not None
        values = [s.eps * f for f in NORM_FRACTIONS]
        won = [rate(success_draws(model, result.scaled(f), x, y, seed=s.seed), ok) for f in NORM_FRACTIONS]
        lost = [rate(success_draws(model, baseline.scaled(f), x, y, seed=s.seed), ok) for f in NORM_FRACTIONS]
        return {"axis": "eps", "values": values, "success": won, "baseline": lost}
    # a patch is scaled to each area; a sticker has its mask's area only
    sized = [(a, a) for a in s.areas] if s.kind == "patch" else [(float(result.mask.mean()), None)]  # type: ignore[union-attr]
    areas = [shown for shown, _ in sized]
    won = [rate(success_draws(model, result, x, y, draws=s.draws, seed=s.seed, area=a), ok) for _, a in sized]
    lost = [rate(success_draws(model, baseline, x, y, draws=s.draws, seed=s.seed, area=a), ok) for _, a in sized]
    return {"axis": "area", "values": areas, "success": won, "baseline": lost}


def _physical(
    model: nn.Module, result: PatternResult, x: Tensor, y: Tensor, ok: Tensor, s: PatchSettings, pipeline: Compose
) -> list[dict[str, Any]]:
    """Per step of the pipeline and the whole chain: success after it, and the destruction rate."""
    plain = success_draws(model, result, x, y, draws=s.draws, seed=s.seed)
    fooled = plain & ok[None]
    rows = []
    steps = [(t.name, t) for t in pipeline.transforms] + [(PIPELINE, pipeline)]
    for name, transform in steps:
        after = success_draws(model, result, x, y, draws=s.draws, seed=s.seed, transform=transform)
        undone = int((fooled & ~after).sum())
        rows.append(
            {
                "transform": name,
                "success": rate(after, ok),
                "destruction": undone / int(fooled.sum()) if bool(fooled.any()) else None,
                "destroyed": undone,
                "fooled": int(fooled.sum()),
            }
        )
    return rows


def _printability(result: PatternResult, baseline: PatternResult, palette: Tensor) -> dict[str, Any] | None:
    """Mean distance to the nearest palette colour and Sharif et al.'s score, beside a random pattern's."""
    if result.kind == "universal":
        return None
    lo, hi = result.bounds

    def unit(p: PatternResult) -> Tensor:
        return (p.pattern - lo) / (hi - lo)

    weight = result.mask
    return {
        "palette": palette.tolist(),
        "distance": palette_distance(unit(result), palette.to(result.pattern), weight),
        "baseline_distance": palette_distance(unit(baseline), palette.to(result.pattern), weight),
        "nps": float(non_printability(unit(result), palette.to(result.pattern), weight)),
    }


def measure_patch(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    settings: PatchSettings,
    *,
    pipeline: Compose,
    mask: Tensor | None = None,
    palette: Tensor | None = None,
    bounds: Bounds = (0.0, 1.0),
    progress: bool = False,
) -> PatchOutcome:
    """Train ``settings.kind`` on the fit part of ``(x, y)`` and measure it on the held-out part."""
    t0 = time.perf_counter()
    s = settings
    height, width = int(x.shape[-2]), int(x.shape[-1])
    pipeline.check_size(height, width)
    ids = torch.arange(x.shape[0], device=x.device)
    if s.source is not None:
        ids = ids[y == s.source]
        if ids.numel() == 0:
            raise InputError(f"no input of the source class {s.source} (--source); pick a class the data holds")
    fit, held = split(int(ids.numel()), s.held_out, s.seed)
    fit_ids, held_ids = ids[fit.to(x.device)], ids[held.to(x.device)]
    colours = palette if palette is not None else default_palette(int(x.shape[1]))
    if s.kind == "sticker" and mask is None:
        mask = make_mask(s.mask, height, width, s.area, at=s.mask_at)
    milestone(progress, f"patch: training the {s.kind} ({s.budget}) on {fit_ids.numel()} inputs")
    result = _train(model, x[fit_ids], y[fit_ids], s, mask, colours, pipeline, bounds, progress)
    xh, yh = x[held_ids], y[held_ids]
    ok = counted(model, xh, yh, s.target)
    baseline = random_like(result, seed=s.seed + 1)
    plain = success_draws(model, result, xh, yh, draws=s.draws, seed=s.seed)
    figures: dict[str, Any] = {
        "clean_accuracy": float((predict_logits(model, xh).argmax(1) == yh).float().mean()),
        "success": {
            "rate": rate(plain, ok),
            "baseline": rate(success_draws(model, baseline, xh, yh, draws=s.draws, seed=s.seed), ok),
            "counted": int(ok.sum()),
        },
        "curve": _curve(model, result, baseline, xh, yh, ok, s),
        "physical": _physical(model, result, xh, yh, ok, s, pipeline),
        "printability": _printability(result, baseline, colours),
    }
    milestone(progress, f"patch: held-out success {figures['success']['rate']:.3f}")
    show = torch.nonzero(ok).flatten()[:GALLERY]
    images = result.apply(xh[show], generator=torch.Generator(x.device).manual_seed(s.seed * 7919))
    gallery = {
        "ids": held_ids[show],
        "clean": xh[show],
        "applied": images,
        "labels": yh[show],
        "clean_pred": predict_logits(model, xh[show]).argmax(1) if show.numel() else yh[show],
        "pred": predict_logits(model, images).argmax(1) if show.numel() else yh[show],
    }
    return PatchOutcome(result, fit_ids, held_ids, figures, gallery, time.perf_counter() - t0)
