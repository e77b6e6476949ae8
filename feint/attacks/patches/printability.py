"""What a printer can reproduce and what a camera sees smoothly: the non-printability score and
total variation (Sharif, Bhagavatula, Bauer & Reiter 2016, "Accessorize to a Crime", section 4.3).

A palette is a (P, C) tensor of printable colours in [0, 1]. Sharif et al.'s non-printability
score of a pattern is, summed over its pixels, the product of the pixel's distances to every
palette colour: zero exactly when every pixel is printable (here its P-th root, averaged). Total variation sums, over pixels,
the length of the difference to the right and lower neighbours; a low value is a smooth pattern
that survives the camera's sampling. Shapes: pattern (C, H, W), weight (1, H, W).

A palette file is JSON (a list of colours, each a list of C numbers, or one number for grey) or
CSV (one colour per row); values above 1 are read as 0-255. It is read as data, never run.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint.errors import InputError

# Printers do not reach the ends of the range: paper is not pure white, ink not pure black.
PRINTABLE_LEVELS = (0.08, 0.3, 0.5, 0.7, 0.92)


def default_palette(channels: int) -> Tensor:
    """A (P, C) palette: five grey levels, or every combination of three levels per channel (27 colours for RGB)."""
    if channels == 1:
        return torch.tensor(PRINTABLE_LEVELS)[:, None]
    levels = torch.tensor((0.08, 0.5, 0.92))
    grid = torch.cartesian_prod(*([levels] * channels))
    return grid.reshape(-1, channels)


def check_palette(palette: Any, channels: int, *, source: str = "the palette") -> Tensor:
    """``palette`` as a (P, C) float tensor in [0, 1] (values above 1 are read as 0-255)."""
    try:
        values = torch.as_tensor(palette, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{source} is not a list of colours; give a list like [[0.1, 0.2, 0.3], ...]") from exc
    if values.dim() == 1:
        values = values[:, None]
    if values.dim() != 2 or values.shape[0] == 0 or not bool(torch.isfinite(values).all()):
        raise InputError(f"{source} is not a list of colours; give a non-empty list like [[0.1, 0.2, 0.3], ...]")
    if values.shape[1] != channels:
        raise InputError(f"{source} has colours of {values.shape[1]} values but the images have {channels} channels")
    if float(values.min()) < 0 or float(values.max()) > 255:
        raise InputError(f"{source} has values outside 0-1 (or 0-255); give colours as fractions or bytes")
    return values / 255 if float(values.max()) > 1 else values


def load_palette(path: str | os.PathLike[str], channels: int) -> Tensor:
    """A palette file (``.json`` or ``.csv``) as a (P, C) tensor; see the module docstring."""
    where = Path(path)
    if where.suffix.lower() not in (".json", ".csv"):
        raise InputError(f"the palette file {where} must be .json or .csv (a list of colours)")
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the palette file {where}: {exc}; give a JSON or CSV list of colours") from exc
    source = f"the palette file {where}"
    if where.suffix.lower() == ".json":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source} is not valid JSON ({exc.msg}); give a list of colours") from exc
        if not isinstance(data, list):
            raise InputError(f"{source} is not a list of colours; give a JSON list like [[0.1, 0.2, 0.3], ...]")
    else:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
        try:
            data = [[float(c) for c in r] for r in rows]
        except ValueError as exc:
            raise InputError(f"{source} is not a list of colours: every cell must be a number ({exc})") from exc
        if len({len(r) for r in data}) > 1:
            raise InputError(f"{source} is not a list of colours: its rows have different lengths")
    return check_palette(data, channels, source=source)


def _distances(pattern: Tensor, palette: Tensor) -> Tensor:
    """(H*W, P) Euclidean distance of every pixel of ``pattern`` (C, H, W) to every palette colour."""
    pixels = pattern.flatten(1).T
    return (pixels[:, None, :] - palette.to(pattern)[None]).pow(2).sum(-1).add(1e-12).sqrt()


def _weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return values.mean()
    w = weight.flatten().to(values)
    return (values * w).sum() / w.sum().clamp_min(1e-12)


def non_printability(pattern: Tensor, palette: Tensor, weight: Tensor | None = None) -> Tensor:
    """Sharif et al.'s non-printability score, as a mean over the pixels ``weight`` (1, H, W) covers:
    the product over the palette of each pixel's distance to it, taken to the power 1 / P (the
    geometric mean: zero exactly where theirs is, but its size and gradient do not vanish as the
    palette grows). Differentiable."""
    distances = _distances(pattern, palette)
    return _weighted_mean(distances.log().mean(1).exp(), weight)


def palette_distance(pattern: Tensor, palette: Tensor, weight: Tensor | None = None) -> float:
    """The mean distance of the covered pixels to their nearest palette colour (0: all printable),
    in the units of the images; the report's printability figure."""
    with torch.no_grad():
        return float(_weighted_mean(_distances(pattern, palette).amin(1), weight))


def total_variation(pattern: Tensor) -> Tensor:
    """Sharif et al.'s total variation of ``pattern`` (C, H, W), per pixel: sqrt of the squared
    differences to the right and lower neighbours (summed over channels), averaged."""
    dx = (pattern[:, :-1, 1:] - pattern[:, :-1, :-1]).pow(2).sum(0)
    dy = (pattern[:, 1:, :-1] - pattern[:, :-1, :-1]).pow(2).sum(0)
    if dx.numel() == 0:
        return pattern.new_zeros(())
    return (dx + dy + 1e-12).sqrt().mean()
