"""The natural-variation report page (schema ``feint.natural/1``), self-contained.

The verdict compares the worst case over the rotation x translation grid with the clean accuracy
(Engstrom et al. 2019: a few degrees and pixels, searched, fool most models): it fails when the
worst case is below half the clean accuracy, warns when it is more than 10 points below, and
passes otherwise. The body is the audit's own section (:func:`feint.measure.natural_page.natural_section`).
"""

from __future__ import annotations

from typing import Any

from feint.capabilities.physical.natural_report import worst_of
from feint.measure.natural_page import natural_section
from feint.report.html import definitions, esc, num, pct, provenance_html, report_page, verdict_box


def _verdict(report: dict[str, Any]) -> str:
    natural = report["natural"]
    clean, grid = natural["clean_accuracy"], natural["grid"]
    worst = grid["worst_case_accuracy"]
    status = "fail" if worst < clean / 2 else "warn" if worst < clean - 0.1 else "pass"
    text = (
        f"Clean accuracy is {pct(clean)}. Over every combination of {len(grid['rotations'])} rotations and "
        f"{len(grid['translations'])} x {len(grid['translations'])} shifts, only {pct(worst)} of the inputs stay "
        f"correctly classified under all of them (mean over the grid: {pct(grid['mean_accuracy'])})."
    )
    figures = [
        (pct(clean), "clean accuracy"),
        (pct(worst), "worst case over the grid"),
        (pct(grid["mean_accuracy"]), "mean over the grid"),
    ]
    measured = [f for f in natural["families"] if f["values"]]
    if measured:  # the family that costs the most accuracy, at its harshest value
        family = min(measured, key=lambda f: worst_of(f)[1])
        value, accuracy = worst_of(family)
        figures.append((pct(accuracy), f"{family['name']} at {num(value)}"))
    return verdict_box(status, text, figures)


def _settings(report: dict[str, Any]) -> str:
    model, data = report["model"], report["data"]
    facts = [(k, esc(v)) for k, v in model.items()]
    facts += [("data", f"{esc(data.get('name'))} ({num(data.get('n'))} inputs, split {esc(data.get('split'))})")]
    facts += [("time", f"{num(report['natural']['seconds'])} s")]
    return definitions(facts) + "<h3>Provenance</h3>" + provenance_html(report)


def render_natural_html(report: dict[str, Any]) -> str:
    sections = [
        ("natural", "Natural variation", "Accuracy under rotation, translation, scaling, cropping, blur, brightness and JPEG, and the worst case over a grid of rotations and translations (Engstrom et al. 2019).", natural_section(report)),
        ("settings", "Model, data and provenance", "", _settings(report)),
    ]  # fmt: skip
    title = f"Natural variation: {report['model'].get('name', 'model')}"
    return report_page(title, sections, report, verdict=_verdict(report))
