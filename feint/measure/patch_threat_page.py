"""The audit's patch threat section (``report["patch"]``, see :mod:`feint.measure.patch_threat`):
robust accuracy against the area of a patch, beside the clean accuracy, and the two attacks' parts."""

from __future__ import annotations

from typing import Any

from feint.report.html import figure, num, pct, table
from feint.report.plots import line_plot


def patch_threat_section(report: dict[str, Any]) -> str:
    """The section's markup: a curve of accuracy against area and the table behind it."""
    section = report.get("patch") or {}
    rows = section.get("areas") or []
    if not rows:
        return '<p class="muted">Not measured; run the audit with --threat patch:AREA.</p>'
    areas = [r["area"] for r in rows]
    clean = section["clean_accuracy"]
    series = {
        "robust (both)": [r["robust_accuracy"] for r in rows],
        "universal patch": [r["universal_accuracy"] for r in rows],
        "per-input patch": [r["per_input_accuracy"] for r in rows],
        "clean": [clean] * len(rows),
    }
    body = table(
        ["area", "patch side (px)", "universal patch", "per-input patch", "robust accuracy"],
        [
            [num(r["area"]), num(r["side"]), pct(r["universal_accuracy"]), pct(r["per_input_accuracy"]), f"<b>{pct(r['robust_accuracy'])}</b>"]
            for r in rows
        ],
        numeric=(0, 1, 2, 3, 4),
    )  # fmt: skip
    s = section.get("settings") or {}
    note = (
        f'<p class="muted">Universal patch: {num(s.get("steps"))} training steps on the audited inputs, '
        f"{num(s.get('draws'))} random placements each; per-input patch: {num(s.get('placements'))} random "
        f"positions x {num(s.get('search_steps'))} PGD steps on the content. Clean accuracy {pct(clean)}.</p>"
    )
    if len(rows) < 2:
        return body + note
    plot = line_plot(
        areas, series, xlabel="fraction of the image covered by the patch", ylabel="accuracy (%)",
        bold=("robust (both)",), dashed=("clean",), height=3.4,
    )  # fmt: skip
    return figure(plot, "accuracy against patch area") + body + note
