"""Figures for every report, returned as ``data:image/png;base64,...`` URIs (no files).

Matplotlib is used through ``Figure`` + the Agg canvas only, so drawing never touches pyplot's
global state or the user's backend. Images are (C, H, W) arrays in [0, 1], upscaled by pixel
repetition (nearest neighbour). Colours: Okabe & Ito's colour-blind safe palette.
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

# Okabe & Ito's colour-blind safe palette (black is kept for a headline series).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# Past the palette's seven colours a series takes the next line style and marker, so no two of up
# to 7 x 4 series (an escalated audit has a dozen attacks) look the same.
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "^", "v", "D")
Values = Sequence[float | None]


def series_style(i: int) -> dict[str, Any]:
    """The colour, line style and marker of the ``i``-th series: all three pairs differ up to 28 series."""
    turn = i // len(PALETTE) % len(LINE_STYLES)
    return {"color": PALETTE[i % len(PALETTE)], "ls": LINE_STYLES[turn], "marker": MARKERS[turn]}


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib ``Figure`` on the Agg canvas (no pyplot), constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def figure_uri(fig: Figure) -> str:
    """Render ``fig`` to a PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def nan_list(values: Values) -> list[float]:
    """``None`` -> NaN, so matplotlib leaves a gap."""
    return [math.nan if v is None else float(v) for v in values]


def percent(values: Values) -> list[float]:
    """Fractions -> percentages (``None`` -> NaN)."""
    return [100 * v for v in nan_list(values)]


def _draw_lines(
    ax: Any, x: Sequence[float], series: Mapping[str, Values], *, scale: Any, dashed: Sequence[str], bold: Sequence[str]
) -> None:
    colour = 0
    for name, values in series.items():
        if name in bold:
            ax.plot(x, scale(values), marker="s", ms=7, lw=4.5, color="black", label=name, zorder=1)
        elif name in dashed:
            ax.plot(x, scale(values), ls="--", lw=1.5, marker="x", ms=5, color="#777777", label=name, zorder=2)
        else:
            ax.plot(x, scale(values), ms=4, lw=1.5, label=name, zorder=3, **series_style(colour))
            colour += 1
    if all(isinstance(v, int) for v in x):  # rounds, step counts: no fractional ticks
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def line_plot(
    x: Sequence[float],
    series: Mapping[str, Values],
    *,
    xlabel: str,
    ylabel: str,
    percent_axis: bool = True,
    dashed: Sequence[str] = (),
    bold: Sequence[str] = (),
    width: float = 7.5,
    height: float = 4.2,
) -> str:
    """One line per series against ``x``; fractions drawn as 0-100 % when ``percent_axis``.

    Series named in ``bold`` are drawn thick and black-first (a headline), those in ``dashed``
    dashed grey-ish (a baseline such as random noise).
    """
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    _draw_lines(ax, x, series, scale=percent if percent_axis else nan_list, dashed=dashed, bold=bold)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if percent_axis:
        ax.set_ylim(-2, 105)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)


def line_panels(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Values]],
    *,
    xlabel: str,
    ylabel: str,
    dashed: Sequence[str] = (),
    bold: Sequence[str] = (),
    height: float = 3.8,
) -> str:
    """Side-by-side panels (title -> series) sharing a 0-100 % y axis, one legend for all."""
    fig = new_figure(1.0 + 3.6 * len(panels), height)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, series) in zip(axes, panels.items(), strict=True):
        _draw_lines(ax, x, series, scale=percent, dashed=dashed, bold=bold)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylim(-2, 105)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)


def heatmap(
    values: Sequence[Values],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "accuracy (%)",
    cmap: str = "viridis",
) -> str:
    """Heat map of fractions (rows x columns) shown as 0-100 %, each cell annotated when small enough."""
    data = np.array([nan_list(r) for r in values], dtype=float) * 100
    fig = new_figure(1.6 + 0.62 * len(col_labels), 0.9 + 0.34 * len(row_labels))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels], fontsize=8)
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if data.size <= 400:
        for (row, col), value in np.ndenumerate(data):
            text = "–" if math.isnan(value) else f"{value:.0f}"
            ax.text(col, row, text, ha="center", va="center", fontsize=7, color="white" if value < 60 else "black")
    fig.colorbar(image, ax=ax, label=colorbar, shrink=0.8)
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


def curves_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
    dashed: Sequence[str] = (),
    width: float = 6.2,
    height: float = 4.6,
) -> str:
    """One curve per series, each with its own x values (ROC curves); ``diagonal`` adds the chance line."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    if diagonal:
        ax.plot([0, 1], [0, 1], ls=":", lw=1, color="#999999", label="chance")
    for i, (name, (xs, ys)) in enumerate(curves.items()):
        look = series_style(i) | ({"ls": "--"} if name in dashed else {})
        ax.plot(nan_list(xs), nan_list(ys), lw=1.8, label=name, color=look["color"], ls=look["ls"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)


def bar_histogram(
    counts: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str = "inputs",
    width: float = 7.5,
    height: float = 3.6,
) -> str:
    """Histograms given as a height per integer value (index = value), one outlined step series each."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(counts.items()):
        edges = np.arange(len(values) + 1) - 0.5
        look = series_style(i)
        ax.stairs(np.asarray(values, dtype=float), edges, lw=1.8, color=look["color"], ls=look["ls"], label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)


def band_plot(
    x: Sequence[float],
    lower: Values,
    upper: Values,
    *,
    labels: tuple[str, str, str],
    xlabel: str,
    ylabel: str,
    width: float = 7.5,
    height: float = 4.2,
) -> str:
    """An interval per x: the ``lower`` and ``upper`` bounds (fractions, drawn as 0-100 %) as lines and
    the gap between them shaded; ``labels`` names the lower line, the upper line and the gap."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    low, high = percent(lower), percent(upper)
    gap = ax.fill_between(x, low, high, color="#bbbbbb", alpha=0.45, lw=0, label=labels[2])
    (top,) = ax.plot(x, high, marker="o", ms=5, lw=2, color=PALETTE[5], label=labels[1])
    (bottom,) = ax.plot(x, low, marker="s", ms=5, lw=2, color=PALETTE[0], label=labels[0])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-2, 105)
    ax.grid(alpha=0.3)
    ax.legend(handles=[top, gap, bottom], fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure_uri(fig)
