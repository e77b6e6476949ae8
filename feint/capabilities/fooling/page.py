"""The fooling-image report page (schema ``feint.fool/1``), self-contained.

Shows what Nguyen, Yosinski & Clune 2015 show: the best unrecognisable image per class with the
model's confidence in it, how the confidence grew over the generations (median and minimum over
the classes, and every class as a heat map), and what it cost in queries and time.
"""

from __future__ import annotations

from typing import Any

from feint.report.gallery import tile_grid
from feint.report.html import definitions, esc, figure, num, page, pct, provenance_html, table, verdict_box
from feint.report.plots import heatmap, line_plot


def confidence_text(value: float) -> str:
    """A confidence as a percentage, with the digits that separate 99.9% from 99.999%."""
    return pct(value) if value < 0.99 else f"{100 * value:.3f}%"


def _verdict(report: dict[str, Any]) -> str:
    s = report["summary"]
    step = "steps" if report["method"] == "gradient" else "generations"
    status = "fail" if s["fooled"] == s["classes"] else "warn" if s["fooled"] else "pass"
    text = (
        f"With the <b>{esc(report['method'])}</b> method, {s['fooled']} of {s['classes']} classes got an "
        f"unrecognisable image the model labels with at least {pct(s['threshold'])} confidence after "
        f"{len(report['history']['generation']) - 1} {step}, using {num(report['queries'])} queries."
    )
    if report.get("stopped"):
        text += f" The search stopped early: {esc(report['stopped'])}."
    return verdict_box(
        status,
        text,
        [
            (f"{s['fooled']} / {s['classes']}", f"classes fooled at ≥ {pct(s['threshold'])}"),
            (confidence_text(s["median_confidence"]), "median confidence over classes"),
            (confidence_text(s["min_confidence"]), "lowest class confidence"),
            (num(report["queries"]), "queries"),
        ],
    )


def _images(report: dict[str, Any], images: Any) -> str:
    tiles = [
        (
            images[i],
            f"<b>{esc(c['class'])}</b><br>{confidence_text(c['confidence'])}"
            + ("" if c["prediction"] == c["class"] else f"<br>top-1: {esc(c['prediction'])}"),
        )
        for i, c in enumerate(report["classes"])
    ]
    return tile_grid(tiles)


def _progress(report: dict[str, Any]) -> str:
    h = report["history"]
    gens = h["generation"]
    curve = line_plot(
        gens,
        {"median over classes": h["median"], "lowest class": h["min"]},
        xlabel="generation",
        ylabel="confidence (%)",
        bold=("median over classes",),
    )
    marks = sorted({round(i * (len(gens) - 1) / 10) for i in range(11)})
    grid = heatmap(
        [[row[m] for m in marks] for row in h["per_class"]],
        row_labels=report["class_names"],
        col_labels=[str(gens[m]) for m in marks],
        xlabel="generation",
        ylabel="class",
        colorbar="best confidence (%)",
    )
    rows = [
        [esc(c["class"]), confidence_text(c["confidence"]), esc(c["prediction"]), "yes" if c["fooled"] else "no"]
        for c in report["classes"]
    ]
    return (
        figure(curve, "median and lowest confidence over classes against generation")
        + figure(grid, "best confidence per class against generation")
        + table(["class", "confidence", "top-1", f"≥ {pct(report['summary']['threshold'])}"], rows, numeric=(1,))
    )


def _settings(report: dict[str, Any]) -> str:
    model = report["model"]
    pairs = [(k, esc(v)) for k, v in model.items()] + [(k, esc(v)) for k, v in report["settings"].items()]
    pairs += [("wall time", f"{num(report['seconds'])} s")]
    pairs += [(k, f"<code>{esc(v)}</code>") for k, v in report["files"].items() if v]
    return definitions(pairs) + "<h3>Provenance</h3>" + provenance_html(report)


def render_fooling_html(report: dict[str, Any], images: Any) -> str:
    """The report page; ``images`` are the (K, C, H, W) best images in [0, 1]."""
    sections = [
        ("images", "Best image per class", "The image the model is most confident about for each class, with that confidence.", _images(report, images)),
        ("progress", "Confidence against generation", "The best confidence reached for each class so far.", _progress(report)),
        ("settings", "Settings, model and provenance", "", _settings(report)),
    ]  # fmt: skip
    title = f"Fooling images: {report['model'].get('name', 'model')}"
    subtitle = f"{report.get('created')} · feint {report.get('feint_version')} · Nguyen, Yosinski & Clune 2015"
    return page(title, sections, subtitle=subtitle, verdict=_verdict(report))
