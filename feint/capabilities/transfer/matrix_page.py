"""The transfer matrix's page (``report.html``): verdict, the matrices, crafting, the models."""

from __future__ import annotations

from typing import Any

from feint.capabilities.transfer.matrix_report import PAPERNOT_PATTERN, target_vulnerability
from feint.report.html import definitions, esc, figure, num, pct, provenance_html, report_page, table, verdict_box
from feint.report.plots import heatmap


def _verdict(r: dict[str, Any]) -> str:
    vulnerability = target_vulnerability(r["disjoint_halves"])
    ranked = sorted(vulnerability, key=lambda t: -vulnerability[t])
    text = (
        f"At eps {num(r['settings']['eps'])} (L∞), on {num(r['data']['n'])} held-out {esc(r['data']['name'])} inputs, "
        f"the most vulnerable target is <b>{esc(ranked[0])}</b> ({pct(vulnerability[ranked[0]])} misclassified on "
        f"average over the other sources) and the least vulnerable <b>{esc(ranked[-1])}</b> "
        f"({pct(vulnerability[ranked[-1]])}). {esc(PAPERNOT_PATTERN)}"
    )
    boxes = [(pct(vulnerability[t]), f"{t} as a target") for t in ranked]
    return verdict_box("info", text, boxes)


def _matrix(r: dict[str, Any], key: str, diagonal: str) -> str:
    m = r[key]
    uri = heatmap(
        m["rates"],
        row_labels=m["sources"],
        col_labels=m["targets"],
        xlabel="target",
        ylabel="source (crafts the examples)",
        colorbar="misclassified (%)",
        cmap="magma",
    )
    rows = [
        [esc(s), *(f"<b>{pct(v)}</b>" if s == t else pct(v) for t, v in zip(m["targets"], row, strict=True))]
        for s, row in zip(m["sources"], m["rates"], strict=True)
    ]
    clean = [
        esc("clean error"),
        *(pct(r["models"][t]["clean_error"][0 if key == "same_data" else 1]) for t in m["targets"]),
    ]
    return (
        figure(uri, f"misclassification heat map, {key}")
        + table(["source \\ target", *m["targets"]], [*rows, clean], numeric=range(1, len(m["targets"]) + 1))
        + f'<p class="muted">Bold: the diagonal ({esc(diagonal)}). Last row: each target\'s error on the clean inputs.</p>'
    )


def _crafting(r: dict[str, Any]) -> str:
    rows = []
    for t, c in r["crafting"].items():
        white = r["same_data"]["rates"][r["same_data"]["sources"].index(t)][r["same_data"]["targets"].index(t)]
        over = "–" if c["over_budget"] is None else num(c["over_budget"])
        queries = "–" if c["label_queries"] is None else num(c["label_queries"])
        rows.append(
            [
                esc(t),
                esc(c["method"]),
                pct(white),
                num(c["changed"]),
                num(c["l0"]["median"]),
                num(c["l2"]["median"]),
                num(c["linf"]["median"]),
                over,
                queries,
            ]
        )
    headers = [
        "source",
        "method",
        "fools itself",
        "inputs changed",
        "L0 (median)",
        "L2 (median)",
        "L∞ (median)",
        "over budget",
        "label queries",
    ]
    return table(headers, rows, numeric=range(2, 9))


def _models(r: dict[str, Any]) -> str:
    rows = [
        [esc(t), esc(m["description"]), pct(m["clean_error"][0]), pct(m["clean_error"][1])]
        for t, m in r["models"].items()
    ]
    s = r["settings"]
    pairs = [
        ("data", f"{esc(r['data']['name'])}: halves of {num(r['data']['halves'][0])} and {num(r['data']['halves'][1])} training inputs, {num(r['data']['n'])} held-out ({esc(r['data']['split'])}) inputs attacked"),
        ("budget", f"eps {num(s['eps'])}, L∞, for every method"),
        ("DNN", f"{esc(s['dnn_arch'])}, {num(s['dnn_epochs'])} epochs"),
        ("substitute (kNN, ensemble)", f"{esc(s['substitute_arch'])}, {num(s['substitute_epochs'])} epochs on the source's labels"),
        ("seed", esc(s["seed"])),
        ("time", f"{num(r['timings']['total_seconds'])} s"),
    ]  # fmt: skip
    return (
        table(["technique", "model", "clean error (half A)", "clean error (half B)"], rows, numeric=(2, 3))
        + definitions(pairs)
        + "<h3>Provenance</h3>"
        + provenance_html(r)
    )


def render_html(report: dict[str, Any]) -> str:
    """The ``feint.transfer-matrix/1`` report as one self-contained HTML document."""
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.get("notes") or []) or "<li>none</li>"
    sections = [
        ("same-data", "Cross-technique, same training data", "Sources and targets trained on the same half: the diagonal is each source attacking itself (white-box).", _matrix(report, "same_data", "white-box")),
        ("disjoint", "Cross- and intra-technique, disjoint halves", "Targets trained on the other half of the data: the diagonal is intra-technique transfer, the rest cross-technique.", _matrix(report, "disjoint_halves", "intra-technique")),
        ("crafting", "Crafting methods and perturbation sizes", "Each source's method under the same L∞ eps, and the sizes of the changes it made (over the inputs it changed).", _crafting(report)),
        ("notes", "Notes", "", f"<ul>{notes}</ul>"),
        ("models", "Models, settings and provenance", "", _models(report)),
    ]  # fmt: skip
    return report_page(
        f"Transferability across techniques: {report['data']['name']}",
        sections,
        report,
        verdict=_verdict(report),
    )
