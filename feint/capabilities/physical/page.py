"""The physical-world report page (schema ``feint.physical/1``), self-contained.

Reads top to bottom: the verdict, the destruction rate under the whole print-and-photo chain
against eps (Kurakin, Goodfellow & Bengio 2016's headline comparison: the iterative methods'
subtler perturbations are destroyed more often than FGSM's), per transformation, clean and
adversarial accuracy, examples, the printable sheet and the settings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feint.capabilities.physical.measure import PIPELINE, rate_of
from feint.report.gallery import tile_grid
from feint.report.html import (
    definitions,
    esc,
    figure,
    num,
    page,
    pct,
    pipeline_table,
    provenance_html,
    table,
    verdict_box,
)
from feint.report.plots import heatmap, line_plot

TILES = 6


def _rate(report: dict[str, Any], attack: str, eps: float, transform: str = PIPELINE, k: int = 1) -> float | None:
    return rate_of(report["destruction"], attack, eps, transform, k)


def _verdict(report: dict[str, Any]) -> str:
    s = report["settings"]
    eps = max(s["eps"])
    rates = {a: _rate(report, a, eps) for a in s["attacks"]}
    known = [r for r in rates.values() if r is not None]
    survivors = [a for a, r in rates.items() if r is not None and r < 0.5]
    clean_under = next((u["top1"] for u in report["clean"]["under"] if u["transform"] == PIPELINE), None)
    text = (
        f"Under the whole print-and-photo simulation at eps = {num(eps)}, the transformations destroyed "
        + ", ".join(f"{pct(r)} of <b>{esc(a)}</b>'s" for a, r in rates.items())
        + f" adversarial examples. Clean accuracy is {pct(report['clean']['accuracy']['1'])}, "
        f"{pct(clean_under)} on transformed clean inputs."
    )
    if survivors:
        text += (
            f" Most of {', '.join(esc(a) for a in survivors)}'s examples survive the simulated print and photo: "
            "they may well fool the model through a real camera (print the sheet to check)."
        )
    status = "fail" if survivors else "warn" if known else "pass"
    figures = [(pct(r), f"{a} destroyed at eps {num(eps)}") for a, r in rates.items()]
    return verdict_box(status, text, figures[:5])


def _pipeline(report: dict[str, Any]) -> str:
    s = report["settings"]
    rows = [[num(e), *(pct(_rate(report, a, e, k=k)) for a in s["attacks"] for k in s["topk"])] for e in s["eps"]]
    heads = ["eps", *(f"{a} top-{k}" for a in s["attacks"] for k in s["topk"])]
    curves = {a: [_rate(report, a, e) for e in s["eps"]] for a in s["attacks"]}
    uri = (
        line_plot(s["eps"], curves, xlabel="eps (L∞)", ylabel="destruction rate, top-1 (%)")
        if len(s["eps"]) > 1
        else None
    )
    return figure(uri, "destruction rate against eps") + table(heads, rows, numeric=range(len(heads)))


def _per_transform(report: dict[str, Any]) -> str:
    s = report["settings"]
    names = [u["transform"] for u in report["clean"]["under"]]
    parts = []
    for e in s["eps"]:
        values = [[_rate(report, a, e, t) for a in s["attacks"]] for t in names]
        uri = heatmap(
            values,
            row_labels=names,
            col_labels=s["attacks"],
            xlabel="attack",
            ylabel="transformation",
            colorbar="destruction rate, top-1 (%)",
            cmap="magma",
        )
        parts.append(f"<h3>eps = {num(e)}</h3>" + figure(uri, f"destruction rate per transformation at eps {num(e)}"))
    rows = [
        [
            esc(r["attack"]),
            num(r["eps"]),
            esc(r["transform"]),
            str(r["k"]),
            pct(r["rate"]),
            num(r["destroyed"]),
            num(r["adversarial"]),
        ]
        for r in report["destruction"]
    ]
    full = table(
        ["attack", "eps", "transformation", "top-k", "rate", "destroyed", "adversarial pairs"],
        rows,
        numeric=(1, 3, 4, 5, 6),
    )
    return "".join(parts) + f"<details><summary>Every rate with its counts</summary>{full}</details>"


def _accuracy(report: dict[str, Any]) -> str:
    topk = report["settings"]["topk"]
    clean = [[esc(u["transform"]), *(pct(u.get(f"top{k}")) for k in topk)] for u in report["clean"]["under"]]
    adv = [[esc(a["attack"]), num(a["eps"]), *(pct(a.get(f"top{k}")) for k in topk)] for a in report["attacks"]]
    return (
        "<h3>Clean inputs under each transformation</h3>"
        + table(["transformation", *(f"top-{k}" for k in topk)], clean, numeric=range(1, 1 + len(topk)))
        + "<h3>Adversarial inputs, untransformed</h3>"
        + table(["attack", "eps", *(f"top-{k}" for k in topk)], adv, numeric=range(1, 2 + len(topk)))
    )


def _examples(report: dict[str, Any], tiles: dict[str, np.ndarray]) -> str:
    sheet = report["sheet"]
    cells = [(tiles[name][j], f"#{i} {esc(name)}") for j, i in enumerate(sheet["ids"][:TILES]) for name in tiles]
    link = f"<p>The printable sheet is <code>{esc(report['files']['sheet'])}</code> ({len(sheet['ids'])} inputs, eps {num(sheet['eps'])}); the arrays are in <code>{esc(report['files']['arrays'])}</code>.</p>"
    return link + tile_grid(cells, columns=len(tiles))


def _settings(report: dict[str, Any]) -> str:
    s, m, d = report["settings"], report["model"], report["data"]
    facts = [
        ("model", esc(m.get("name"))),
        ("data", f"{esc(d.get('name'))} ({num(d.get('n'))} inputs)"),
        ("attacks", esc(", ".join(s["attacks"]))),
        ("eps", esc(", ".join(num(e) for e in s["eps"]))),
        ("draws per input", num(s["draws"])),
        ("seed", num(s["seed"])),
        ("EOT", f"{s['eot_samples']} samples per step, {s['eot_steps']} steps" if s["eot"] else "off"),
        ("time", f"{num(report['seconds'])} s"),
    ]
    return definitions(facts) + pipeline_table(s["pipeline"]) + "<h3>Provenance</h3>" + provenance_html(report)


def render_physical_html(report: dict[str, Any], tiles: dict[str, np.ndarray]) -> str:
    """The page; ``tiles`` maps "clean" and each attack to the sheet's images (n, C, H, W) in [0, 1]."""
    sections = [
        ("pipeline", "Destruction rate under the whole pipeline", "Among inputs classified correctly whose adversarial version is misclassified: the fraction classified correctly again after the transformation (Kurakin et al. 2016).", _pipeline(report)),
        ("per-transform", "Destruction rate per transformation", "Each step of the print-and-photo simulation on its own, and the whole chain.", _per_transform(report)),
        ("accuracy", "Accuracy", "What the transformations do to clean inputs, and what the attacks do untransformed.", _accuracy(report)),
        ("examples", "Examples and the printable sheet", "Clean inputs and their adversarial versions at the largest eps, as on the sheet.", _examples(report, tiles)),
        ("settings", "Settings, model and provenance", "", _settings(report)),
    ]  # fmt: skip
    title = f"Physical world: {report['model'].get('name', 'model')}"
    subtitle = f"{report.get('created')} · feint {report.get('feint_version')} · Kurakin, Goodfellow & Bengio 2016"
    return page(title, sections, subtitle=subtitle, verdict=_verdict(report))
