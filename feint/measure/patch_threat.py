"""Robust accuracy against a patch threat model: a square covering ``area`` of the image, anywhere.

The audit's ``--threat patch:AREA`` (Python: ``audit(..., threats=["patch:0.05"])``). For each
area an input counts as robust only if the model still classifies it correctly (1) under a
universal adversarial patch of that area (Brown et al. 2017, trained on the audited inputs
themselves: the adversary's best case) at ``draws`` random placements, scales and rotations, and
(2) under a patch made for that input (:func:`feint.attacks.patches.search.patch_search`: PGD on
the content at random positions). Gradients are needed: a torch model only. The figures join the
audit report beside the Linf / L2 curves. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from feint.attacks.patches import adversarial_patch, check_area
from feint.attacks.patches.evaluate import success_draws
from feint.attacks.patches.search import patch_search
from feint.attacks.result import predict_logits
from feint.errors import InputError
from feint.progress import milestone
from feint.report.schema import INT, NUM, obj
from feint.threat import make_generator
from feint.validation import Bounds

THREAT_SCHEMA: dict[str, Any] = obj(
    {
        "clean_accuracy": NUM,
        "areas": {
            "type": "array",
            "items": obj(
                {
                    "area": NUM,
                    "side": INT,
                    "universal_accuracy": NUM,
                    "per_input_accuracy": NUM,
                    "robust_accuracy": NUM,
                }
            ),
        },
        "settings": obj({"steps": INT, "draws": INT, "placements": INT, "search_steps": INT}),
        "seconds": NUM,
    }
)


def parse_threat(text: str) -> float:
    """``"patch:0.05"`` -> 0.05 (the area); the one threat model this reads."""
    kind, sep, value = str(text).partition(":")
    if kind.strip().lower() != "patch" or not sep:
        raise InputError(f"unknown threat {text!r}; give patch:AREA (e.g. --threat patch:0.05)")
    try:
        area = float(value)
    except ValueError as exc:
        raise InputError(f"threat {text!r}: the area must be a number, e.g. patch:0.05") from exc
    return check_area(area, f"the area of threat {text!r}")


def patch_threat(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    areas: Sequence[float],
    bounds: Bounds = (0.0, 1.0),
    seed: int = 0,
    steps: int = 200,
    draws: int = 8,
    placements: int = 4,
    search_steps: int = 20,
    progress: bool = False,
) -> dict[str, Any]:
    """The section: clean accuracy, and per area the accuracy under the universal patch, under the
    per-input patches and under both (the robust accuracy)."""
    if not isinstance(model, nn.Module):
        raise InputError("the patch threat model needs gradients: audit a torch model to use --threat patch:AREA")
    t0 = time.perf_counter()
    correct = predict_logits(model, x).argmax(1) == y
    rows = []
    for area in areas:
        universal = adversarial_patch(model, x, y, area=area, steps=steps, bounds=bounds, seed=seed)
        hit = success_draws(model, universal, x, y, draws=draws, seed=seed).any(0)
        gen = make_generator(seed, x.device)
        held = patch_search(
            model, x, y, area=area, placements=placements, steps=search_steps, bounds=bounds, generator=gen
        )
        rows.append(
            {
                "area": float(area),
                "side": int(universal.pattern.shape[-1]),
                "universal_accuracy": float((correct & ~hit).float().mean()),
                "per_input_accuracy": float(held.float().mean()),
                "robust_accuracy": float((correct & ~hit & held).float().mean()),
            }
        )
        milestone(progress, f"audit: patch threat {area:g}, robust accuracy {rows[-1]['robust_accuracy']:.4f}")
    return {
        "clean_accuracy": float(correct.float().mean()),
        "areas": rows,
        "settings": {"steps": steps, "draws": draws, "placements": placements, "search_steps": search_steps},
        "seconds": time.perf_counter() - t0,
    }
