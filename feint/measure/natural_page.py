"""The audit's natural-variation section (``report["natural"]``, see :mod:`feint.measure.natural`).

One panel per family (accuracy against the transformation's value, clean accuracy dashed), the
rotation x translation grid as a heat map, and the worst case over the grid beside the clean
accuracy (Engstrom et al. 2019).
"""

from __future__ import annotations

from typing import Any

from feint.report.html import definitions, figure, num, pct, table
from feint.report.plots import PALETTE, figure_uri, heatmap, new_figure, percent


def _panels(natural: dict[str, Any]) -> str:
    families = natural.get("families") or []
    fig = new_figure(11.0, 5.4)
    axes = fig.subplots(2, 4, squeeze=False).flatten()
    clean = 100 * float(natural.get("clean_accuracy") or 0.0)
    for ax, family in zip(axes, families, strict=False):
        ax.plot(family["values"], percent(family["accuracy"]), marker="o", ms=4, color=PALETTE[0])
        ax.axhline(clean, ls="--", lw=1, color="#777777")
        ax.set_title(family["name"], fontsize=8)
        ax.set_ylim(-2, 105)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    grid = natural.get("grid") or {}
    last = axes[len(families)] if len(families) < len(axes) else None
    if last is not None:
        values = [
            clean,
            100 * float(grid.get("mean_accuracy") or 0.0),
            100 * float(grid.get("worst_case_accuracy") or 0.0),
        ]
        last.bar(["clean", "grid mean", "grid worst"], values, color=[PALETTE[2], PALETTE[4], PALETTE[5]])
        last.set_ylim(0, 105)
        last.set_title("rotation x translation grid", fontsize=8)
        last.tick_params(labelsize=7)
    for ax in axes[len(families) + 1 :]:
        ax.set_visible(False)
    fig.supylabel("accuracy (%)", fontsize=9)
    return figure_uri(fig)


def natural_section(report: dict[str, Any]) -> str:
    """The section's markup; a short note when the audit ran without ``natural``."""
    natural = report.get("natural")
    if not natural:
        return '<p class="muted">Not measured; run the audit with --natural.</p>'
    grid = natural.get("grid") or {}
    rows = [
        [f["name"], *(f"{num(v)}: {pct(a)}" for v, a in zip(f["values"], f["accuracy"], strict=True))]
        for f in natural.get("families") or []
    ]
    width = max((len(r) for r in rows), default=1)
    rows = [r + [""] * (width - len(r)) for r in rows]
    heat = heatmap(
        grid.get("accuracy_no_vertical_shift") or [],
        row_labels=[num(r) for r in grid.get("rotations") or []],
        col_labels=[num(t) for t in grid.get("translations") or []],
        xlabel="horizontal shift (fraction of the width), no vertical shift",
        ylabel="rotation (degrees)",
    )
    facts = definitions(
        [
            ("clean accuracy", pct(natural.get("clean_accuracy"))),
            ("worst case over the grid", f"<b>{pct(grid.get('worst_case_accuracy'))}</b>"),
            ("mean over the grid", pct(grid.get("mean_accuracy"))),
            (
                "grid",
                f"{len(grid.get('rotations') or [])} rotations x {len(grid.get('translations') or [])}"
                f" x {len(grid.get('translations') or [])} shifts (x, y)",
            ),
        ]
    )
    return (
        facts
        + figure(_panels(natural), "accuracy against severity for each natural transformation")
        + figure(heat, "accuracy over rotations and horizontal shifts")
        + table(["transformation", *([""] * (width - 1))], rows)
    )
