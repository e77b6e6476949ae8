"""The audit report's own figures, as ``data:`` URIs, drawn with :mod:`feint.report.plots`.

Curves follow the presentation of robustness curves in Carlini et al., "On Evaluating
Adversarial Robustness" (2019): accuracy against eps per attack, the per-sample worst case in
bold, a random-noise baseline dashed, clean accuracy marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from feint.report.plots import PALETTE, Values, figure_uri, heatmap, nan_list, new_figure, percent, series_style


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
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    # The worst case is drawn first, underneath, so attacks that equal it stay visible on top.
    ax.plot(eps, percent(worst_case), marker="s", ms=7, lw=4.5, color="black", label="worst case (per sample)")
    for i, (name, acc) in enumerate(attacks.items()):
        ax.plot(eps, percent(acc), ms=4, lw=1.5, label=name, **series_style(i))
    if noise is not None:
        ax.plot(eps, percent(noise), ls="--", lw=1.5, color="#777777", label="random noise")
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
    columns = ([list(clean)] if clean is not None else []) + [list(r) for r in robust]
    labels = (["clean"] if clean is not None else []) + [f"{e:.3g}" for e in eps]
    rows = [[col[i] for col in columns] for i in range(len(class_names))]
    return heatmap(rows, row_labels=[str(c) for c in class_names], col_labels=labels, xlabel="eps")


def perturbation_plot(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Median and mean L0, L2 and Linf size of successful perturbations against eps (three panels)."""
    rows = [r for r in rows if (r.get("l2") or {}).get("median") is not None]
    if not rows:
        return None
    fig = new_figure(9.0, 2.8)
    eps = [float(r["eps"]) for r in rows]
    for i, (key, title) in enumerate((("l0", "L0 (features changed)"), ("l2", "L2"), ("linf", "L∞"))):
        ax = fig.add_subplot(1, 3, i + 1)
        top = 0.0
        for stat, style in (("median", "-o"), ("mean", "--^")):
            values = nan_list([r[key][stat] for r in rows])
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
    fig = new_figure(5.0, 3.0)
    ax = fig.add_subplot()
    ax.plot([d for _, d in points], [100 * q for q, _ in points], "-o", ms=4, color=PALETTE[5])
    ax.set_xlabel(f"minimum L{'∞' if norm == 'inf' else norm} distance found")
    ax.set_ylabel("inputs broken (%)")
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    return figure_uri(fig)
