"""Robustness to natural variation: accuracy against the severity of everyday transformations.

For each family (rotation, translation, scaling, cropping, blur, brightness, JPEG quality) the
model's accuracy is measured on the whole batch transformed by each value of a grid; the value
that leaves the image as it is (rotation by 0, ...) gives the clean accuracy back. Engstrom,
Tran, Tsipras, Schmidt & Madry 2019 ("Exploring the Landscape of Spatial Robustness") showed
that a grid search over combined small rotations and translations finds a transformation that
fools a model on many inputs: the worst case here counts an input as robust only if every
combination of the grid leaves it correctly classified. Only labels are needed, so a query-only
model gets the section too. The figures join the audit report
(``feint audit --natural``) as an optional section. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.result import predict_logits
from feint.errors import InputError
from feint.oracles import Oracle
from feint.progress import bar
from feint.report.schema import NUM, NUMS, STR, obj
from feint.transforms import JPEG, Blur, Brightness, Crop, Rotate, Scale, Transform, Translate, affine
from feint.validation import Bounds

Family = tuple[str, Callable[[float], Transform], tuple[float, ...]]
FAMILIES: tuple[Family, ...] = (
    ("rotation (degrees)", Rotate, (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0)),
    ("translation (fraction of the width)", lambda v: Translate(dx=v, dy=0.0), (-0.2, -0.1, 0.0, 0.1, 0.2)),
    ("scaling (zoom factor)", Scale, (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)),
    ("cropping (fraction of the side kept)", lambda v: Crop(v, centred=True), (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)),
    ("blur (sigma, px)", Blur, (0.0, 0.5, 1.0, 1.5, 2.0)),
    ("brightness (added, fraction of the range)", Brightness, (-0.4, -0.2, 0.0, 0.2, 0.4)),
    ("JPEG quality", JPEG, (100.0, 75.0, 50.0, 25.0, 10.0, 5.0, 1.0)),
)
NATURAL_SCHEMA: dict[str, Any] = obj(
    {
        "clean_accuracy": NUM,
        "families": {"type": "array", "items": obj({"name": STR, "values": NUMS, "accuracy": NUMS})},
        "grid": obj(
            {
                "rotations": NUMS,
                "translations": NUMS,
                "worst_case_accuracy": NUM,
                "mean_accuracy": NUM,
                "accuracy_no_vertical_shift": {"type": "array", "items": NUMS},
            }
        ),
        "seconds": NUM,
    }
)


@dataclass(frozen=True)
class SpatialGrid:
    """Engstrom et al.'s grid: every rotation (degrees) with every shift along x and y (fractions of the side)."""

    rotations: tuple[float, ...] = (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0)
    translations: tuple[float, ...] = (-0.1, -0.05, 0.0, 0.05, 0.1)

    def __post_init__(self) -> None:
        if not self.rotations or not self.translations:
            raise InputError("the rotation-translation grid needs at least one rotation and one translation")


def _accuracy(model: nn.Module | Oracle, x: Tensor, y: Tensor) -> Tensor:
    return predict_logits(model, x).argmax(1) == y


def _family(model: nn.Module | Oracle, x: Tensor, y: Tensor, family: Family, bounds: Bounds) -> dict[str, Any]:
    name, make, values = family
    kept, accuracy = [], []
    for v in values:
        transform = make(v)
        try:
            transform.check_size(int(x.shape[-2]), int(x.shape[-1]))
        except InputError:  # a severity the images are too small for is left out of the curve
            continue
        kept.append(v)
        accuracy.append(float(_accuracy(model, transform(x, bounds=bounds), y).float().mean()))
    return {"name": name, "values": kept, "accuracy": accuracy}


def _grid(
    model: nn.Module | Oracle, x: Tensor, y: Tensor, grid: SpatialGrid, bounds: Bounds, progress: bool
) -> dict[str, Any]:
    lo, hi = bounds
    unit = (x - lo) / (hi - lo)
    n = x.shape[0]
    robust = torch.ones(n, dtype=torch.bool, device=x.device)
    total, count = 0.0, 0
    flat = [[0.0] * len(grid.translations) for _ in grid.rotations]
    combos = [
        (r, i, j)
        for r in range(len(grid.rotations))
        for i in range(len(grid.translations))
        for j in range(len(grid.translations))
    ]
    with bar(progress, total=len(combos), desc="natural: rotation x translation") as shown:
        for r, i, j in combos:
            angle = torch.full((n,), grid.rotations[r], device=x.device)
            shift = torch.tensor([grid.translations[i], grid.translations[j]], device=x.device).expand(n, 2)
            moved = affine(unit, angle=angle, shift=shift) * (hi - lo) + lo
            ok = _accuracy(model, moved, y)
            robust &= ok
            total, count = total + float(ok.float().mean()), count + 1
            if grid.translations[j] == 0.0:
                flat[r][i] = float(ok.float().mean())
            shown.update(1)
    return {
        "rotations": list(grid.rotations),
        "translations": list(grid.translations),
        "worst_case_accuracy": float(robust.float().mean()),
        "mean_accuracy": total / count,
        "accuracy_no_vertical_shift": flat,
    }


def natural_variation(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    grid: SpatialGrid | None = None,
    bounds: Bounds = (0.0, 1.0),
    progress: bool = False,
) -> dict[str, Any]:
    """Accuracy against severity per family and the worst case over ``grid`` (a ``NATURAL_SCHEMA`` dict).

    Only top-1 labels are used, so ``model`` may be any oracle (every transformed batch is counted)."""
    t0 = time.perf_counter()
    grid = grid or SpatialGrid()
    families = [_family(model, x, y, f, bounds) for f in FAMILIES]
    return {
        "clean_accuracy": float(_accuracy(model, x, y).float().mean()),
        "families": families,
        "grid": _grid(model, x, y, grid, bounds, progress),
        "seconds": time.perf_counter() - t0,
    }
