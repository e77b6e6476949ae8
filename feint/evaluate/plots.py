"""Figures for the audit report, returned as ``data:image/png;base64,...`` URIs (no files).

Matplotlib is used through ``Figure`` + the Agg canvas only, so drawing never touches pyplot's
global state or the user's backend. Curves follow the presentation of robustness curves in
Carlini et al., "On Evaluating Adversarial Robustness" (2019): accuracy against eps per attack,
the per-sample worst case in bold, a random-noise baseline dashed, clean accuracy marked.
Gallery tiles: (C, H, W) arrays in [0, 1], upscaled by pixel repetition (nearest neighbour).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from feint.evaluate.gallery import GalleryItem

# Okabe & Ito's colour-blind safe palette (black is kept for the worst case).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
Values = Sequence[float | None]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def figure_uri(fig: Figure) -> str:
    """Render ``fig`` to a PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _nan(values: Values) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _pct(values: Values) -> list[float]:
    return [100 * v for v in _nan(values)]


def accuracy_plot(
    eps: Sequence[float],
    attacks: Mapping[str, Values],
    *,
    worst_case: Values,
    noise: Values | None = None,
    clean_accuracy: float | None = None,
    norm: str = "inf",
) -> str:
    """Accuracy (y, 0-100 %) against eps (x): one line per attack, worst case bold, noise dashed."""
    fig = _figure(7.5, 4.2)
    ax = fig.add_subplot()
    # The worst case is drawn first, underneath, so attacks that equal it stay visible on top.
    ax.plot(eps, _pct(worst_case), marker="s", ms=7, lw=4.5, color="black", label="worst case (per sample)")
    for i, (name, acc) in enumerate(attacks.items()):
        ax.plot(eps, _pct(acc), marker="o", ms=4, lw=1.5, color=PALETTE[i % len(PALETTE)], label=name)
    if noise is not None:
        ax.plot(eps, _pct(noise), ls="--", lw=1.5, color="#777777", label="random noise")
    if clean_accuracy is not None:
        ax.axhline(100 * clean_accuracy, ls=":", lw=1.2, color="#444444")
        ax.annotate(
            f"clean {100 * clean_accuracy:.1f}%",
            (eps[-1], 100 * clean_accuracy),
            xytext=(0, 4),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color="#444444",
        )
    ax.set_xlabel(f"eps (L{'∞' if norm == 'inf' else norm} radius)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)


def per_class_heatmap(
    class_names: Sequence[str], eps: Sequence[float], robust: Sequence[Values], *, clean: Values | None = None
) -> str:
    """Heat map of robust accuracy, classes (rows) x eps (columns), with a clean column first."""
    columns = ([_nan(clean)] if clean is not None else []) + [_nan(r) for r in robust]
    labels = (["clean"] if clean is not None else []) + [f"{e:.3g}" for e in eps]
    data = np.array(columns, dtype=float).T * 100
    fig = _figure(1.1 + 0.62 * len(labels), 0.9 + 0.34 * len(class_names))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(data), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(class_names)), [str(c) for c in class_names], fontsize=8)
    ax.set_xlabel("eps")
    if data.size <= 400:
        for (row, col), value in np.ndenumerate(data):
            text = "–" if math.isnan(value) else f"{value:.0f}"
            ax.text(col, row, text, ha="center", va="center", fontsize=7, color="white" if value < 60 else "black")
    fig.colorbar(image, ax=ax, label="accuracy (%)", shrink=0.8)
    return figure_uri(fig)


def perturbation_plot(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Median and mean L0, L2 and Linf size of successful perturbations against eps (three panels)."""
    rows = [r for r in rows if (r.get("l2") or {}).get("median") is not None]
    if not rows:
        return None
    fig = _figure(9.0, 2.8)
    eps = [float(r["eps"]) for r in rows]
    for i, (key, title) in enumerate((("l0", "L0 (features changed)"), ("l2", "L2"), ("linf", "L∞"))):
        ax = fig.add_subplot(1, 3, i + 1)
        top = 0.0
        for stat, style in (("median", "-o"), ("mean", "--^")):
            values = _nan([r[key][stat] for r in rows])
            top = max([top, *(v for v in values if math.isfinite(v))])
            ax.plot(eps, values, style, ms=4, color=PALETTE[i], label=stat)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("eps", fontsize=8)
        ax.set_ylim(0, 1.12 * top if top > 0 else 1.0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    return figure_uri(fig)


def quantile_points(quantiles: Mapping[str, float | None]) -> list[tuple[float, float]]:
    """``{"0.25": d, "q50": d, "90%": d, ...}`` -> sorted (fraction, distance) pairs; unreadable keys are skipped."""
    points = []
    for key, value in quantiles.items():
        text = str(key).strip().lower().lstrip("qp").rstrip("%")
        try:
            q = float(text)
        except ValueError:
            continue
        q = q / 100 if q > 1 or str(key).endswith("%") else q
        if value is not None and math.isfinite(float(value)) and 0 <= q <= 1:
            points.append((q, float(value)))
    return sorted(points)


def min_norm_plot(quantiles: Mapping[str, float | None], *, norm: str = "2") -> str | None:
    """Fraction of attacked inputs broken (y) within a minimum-norm distance (x), from quantiles."""
    points = quantile_points(quantiles)
    if not points:
        return None
    fig = _figure(5.0, 3.0)
    ax = fig.add_subplot()
    ax.plot([d for _, d in points], [100 * q for q, _ in points], "-o", ms=4, color=PALETTE[5])
    ax.set_xlabel(f"minimum L{'∞' if norm == 'inf' else norm} distance found")
    ax.set_ylabel("inputs broken (%)")
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    return figure_uri(fig)


def image_uri(image: np.ndarray, *, size: int = 112) -> str:
    """(C, H, W) array in [0, 1] -> PNG data URI, upscaled by pixel repetition to about ``size`` px."""
    from matplotlib.image import imsave

    scale = max(1, size // max(image.shape[1:]))
    pixels = np.clip(image, 0, 1).repeat(scale, axis=1).repeat(scale, axis=2)
    buf = io.BytesIO()
    if pixels.shape[0] == 1:
        imsave(buf, pixels[0], cmap="gray", vmin=0, vmax=1, format="png")
    else:
        imsave(buf, pixels[:3].transpose(1, 2, 0), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def perturbation_image(delta: np.ndarray) -> tuple[np.ndarray, float]:
    """Map a perturbation to [0, 1] with 0 at mid grey, amplified so the largest change fills the
    range; returns the image and the amplification factor (1.0 for a zero perturbation)."""
    peak = float(np.abs(delta).max())
    amplification = 0.5 / peak if peak > 0 else 1.0
    return np.clip(0.5 + delta * amplification, 0, 1), amplification


def gallery_tiles(item: GalleryItem, *, size: int = 112) -> tuple[str, str, str, float]:
    """Original, amplified perturbation and adversarial image as data URIs, and the amplification."""
    delta, amplification = perturbation_image(item.perturbation)
    return (
        image_uri(item.image, size=size),
        image_uri(delta, size=size),
        image_uri(item.adversarial, size=size),
        amplification,
    )
