"""The audit report as one self-contained HTML file (schema ``feint.audit/2``; version 1 reports render too).

No network: the CSS is inline, plots and images are ``data:`` URIs, there is no script. Sections
read top to bottom: verdict, accuracy against eps, Goodfellow et al. (2015)'s table, per-class
accuracy, perturbation sizes, minimum-norm distances, outcome categories (Billovits et al. 2016),
the gallery, the gradient-masking checks (Carlini et al. 2019, "On Evaluating Adversarial
Robustness") and the provenance. Every string from the report is escaped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from feint.capabilities.audit import page_sections as rs
from feint.capabilities.audit.page_adaptive import adaptive_section, passes_section
from feint.capabilities.audit.page_interval import INTRO as INTERVAL_INTRO
from feint.capabilities.audit.page_interval import interval_section, interval_sentence
from feint.capabilities.audit.schema import READABLE, SCHEMA
from feint.errors import InputError
from feint.measure.natural_page import natural_section
from feint.measure.patch_threat_page import patch_threat_section
from feint.report.gallery import GalleryItem, gallery_html
from feint.report.html import (
    check_list,
    definitions,
    esc,
    num,
    pct,
    provenance_html,
    report_page,
    table,
    verdict_box,
)

# Radii commonly reported in the literature, used for the headline when the report names none.
REFERENCE_EPS = {
    ("mnist", "inf"): 0.3,
    ("mnist", "2"): 2.0,
    ("fashion-mnist", "inf"): 0.1,
    ("fashion-mnist", "2"): 1.5,
    ("cifar10", "inf"): 8 / 255,
    ("cifar10", "2"): 0.5,
    ("digits", "inf"): 0.1,
    ("digits", "2"): 1.0,
}


def reference_index(report: dict[str, Any]) -> int | None:
    """Index in ``report["eps"]`` of the headline radius: ``reference_eps`` if the report gives one,
    else the dataset's usual radius, else the middle non-zero eps; the nearest grid value wins."""
    grid = [float(e) for e in report.get("eps") or []]
    if not grid:
        return None
    settings, data = report.get("settings") or {}, report.get("data") or {}
    wanted = report.get("reference_eps", settings.get("reference_eps"))
    if wanted is None:
        key = (str(data.get("name", "")).lower(), str(settings.get("norm", "inf")))
        nonzero = [e for e in grid if e > 0] or grid
        wanted = REFERENCE_EPS.get(key, nonzero[len(nonzero) // 2])
    return min(range(len(grid)), key=lambda i: abs(grid[i] - float(wanted)))


def _verdict(report: dict[str, Any]) -> str:
    data, settings = report.get("data") or {}, report.get("settings") or {}
    checks = report.get("checks") or []
    fails = sum(str(c.get("status")).lower() == "fail" for c in checks)
    warns = sum(str(c.get("status")).lower() == "warn" for c in checks)
    i = reference_index(report)
    eps = rs.at(report.get("eps"), i) if i is not None else None
    worst = rs.at((report.get("worst_case") or {}).get("accuracy"), i) if i is not None else None
    # A randomized model's headline is the mean over the redraws of every final point (issue 20).
    randomized = (report.get("adaptive") or {}).get("randomized") or {}
    redrawn = f", mean over {num(randomized.get('redraws'))} redraws" if "accuracy_mean" in randomized else ""
    if redrawn and i is not None:
        worst = rs.at(randomized["accuracy_mean"], i)
    split = f" {esc(data['split'])}" if data.get("split") else ""  # no split named: none shown
    who = f"{num(data.get('n'))} {esc(data.get('name', 'data'))}{split} inputs"
    text = f"On {who}, the model is right on <b>{pct(report.get('clean_accuracy'))}</b> of the clean inputs."
    access = report.get("access") or {}
    if access.get("level") not in (None, "white-box"):
        text = (
            f"<b>White-box attacks could not run:</b> the model gives only {esc(access.get('level'))} access"
            f" ({esc(access.get('note'))}), so only black-box attacks ran and every robust accuracy below is an"
            " <b>upper bound</b> on robustness. " + text
        )
    if eps is not None and worst is not None:
        text += (
            f" Against the strongest attack per input with an {rs.norm_name(settings.get('norm', 'inf'))} perturbation"
            f" of at most {num(eps)}, it is right on <b>{pct(worst)}</b>"
        )
        if redrawn and i is not None:
            strict = rs.at(randomized.get("accuracy_strict"), i)
            text += f" on average over {num(randomized.get('redraws'))} redraws of its randomness ({pct(strict)} in every draw)"
        clean = report.get("clean_accuracy")
        text += f", keeping {pct(worst / clean)} of its clean accuracy." if clean else "."
    text += interval_sentence(report, i)
    if fails or warns:
        text += (
            f' {fails} of {len(checks)} <a href="#checks">gradient-masking checks</a> fail and {warns} warn:'
            " the robust accuracy may be overstated."
        )
    elif checks:
        text += f" All {len(checks)} gradient-masking checks pass."
    if (report.get("escalation") or {}).get("escalated"):
        text += ' The standard attacks had not converged, so the audit <a href="#escalation">escalated</a> before reporting.'
    spend = report.get("queries") or {}
    if spend.get("exhausted"):
        text += f" <b>The query budget of {num(spend.get('budget'))} was spent before the audit finished</b>: robust accuracy is overstated by more than usual."
    status = "fail" if fails else "warn" if warns else "pass"
    boxes = [
        (pct(report.get("clean_accuracy")), "clean accuracy"),
        (pct(worst), f"worst-case robust accuracy at eps = {num(eps)}{redrawn}"),
        (f"{fails} fail · {warns} warn", f"of {len(checks)} gradient-masking checks"),
    ]
    return verdict_box(status, text, boxes)


def _checks(report: dict[str, Any]) -> str:
    checks = report.get("checks") or []
    if not checks:
        return '<p class="muted">No checks ran.</p>'
    return check_list(checks)


def _provenance(report: dict[str, Any]) -> str:
    s, m, d, t = (report.get(k) or {} for k in ("settings", "model", "data", "timings"))
    eps = ", ".join(num(e) for e in report.get("eps") or [])
    params = [
        [esc(n), esc(", ".join(f"{k}={v}" for k, v in (p or {}).items()))] for n, p in (s.get("attacks") or {}).items()
    ]
    per_attack = [[esc(n), num(v)] for n, v in (t.get("per_attack") or {}).items()]
    classes = ", ".join(str(c) for c in d.get("class_names") or [])
    return (
        "<h3>Settings</h3>"
        + definitions(
            [
                ("preset", esc(s.get("preset"))),
                ("norm", esc(rs.norm_name(s.get("norm", "inf")))),
                ("eps", eps),
                ("seed", esc(s.get("seed"))),
            ]
        )
        + (table(["attack", "parameters"], params) if params else "")
        + "<h3>Model and data</h3>"
        + definitions(
            [
                ("model", esc(m.get("name"))),
                ("parameters", num(m.get("parameters"))),
                ("description", esc(m.get("description"))),
                ("data", f"{esc(d.get('name'))} ({esc(d.get('split'))}, {num(d.get('n'))} inputs)"),
                ("input shape", esc(d.get("input_shape"))),
                ("bounds", esc(d.get("bounds"))),
                ("classes", esc(classes)),
                ("source", esc(d.get("source"))),
            ]
        )
        + "<h3>Timings</h3>"
        + definitions([("total", f"{num(t.get('total_seconds'))} s")])
        + (table(["attack", "seconds"], per_attack, numeric=(1,)) if per_attack else "")
        + "<h3>Provenance</h3>"
        + provenance_html(report)
    )


def _sections(report: dict[str, Any], gallery: Sequence[GalleryItem]) -> list[tuple[str, str, str, str]]:
    """(anchor, title, intro, body) of every section after the verdict, in reading order."""
    return [
        ("accuracy", "Accuracy against eps", "Accuracy under each attack, in the order they run. FGSM and the first attack show their own accuracy, as does a minimum-norm attack; every later attack shows what is left after it and the attacks before it (AutoAttack's convention). The worst case counts an input as broken if any attack broke it.", rs.accuracy_section(report)),
        *([("interval", "Robustness interval", INTERVAL_INTRO, interval_section(report))] if report.get("interval") else []),
        *([("patch", "Accuracy against a patch", "Beside the norm ball: a square patch of each area anywhere in the image, universal (Brown et al. 2017) or made for each input; an input counts as robust only if neither fools the model.", patch_threat_section(report))] if report.get("patch") else []),
        ("goodfellow", "Error rate", "Goodfellow et al. (2015): error rate on adversarial inputs (the model answers labels only, so how sure it is of its mistakes is unknown).", rs.goodfellow_section(report)) if rs.label_only(report) else
        ("goodfellow", "Error rate and confidence", "Goodfellow et al. (2015): error rate on adversarial inputs and how sure the model is of its mistakes.", rs.goodfellow_section(report)),
        ("per-class", "Robust accuracy per class", "Worst-case accuracy within each true class.", rs.per_class_section(report)),
        ("perturbations", "Perturbation sizes", "Size of the successful worst-case perturbations; L0 counts changed input features.", rs.perturbations_section(report)),
        ("min-norm", "Minimum-norm distances", "The smallest perturbation found per input, whatever its size.", rs.min_norm_section(report)),
        *([] if rs.label_only(report) else [("outcomes", "Outcome categories", "What the attacks turned predictions into (Billovits et al. 2016); the first matching category counts.", rs.outcomes_section(report))]),
        ("gallery", "Gallery", "Original, perturbation and adversarial input.", gallery_html(gallery)),
        *([("natural", "Natural variation", "Accuracy under rotation, translation, scaling, cropping, blur, brightness and JPEG, and the worst case over a grid of rotations and translations (Engstrom et al. 2019).", natural_section(report))] if report.get("natural") else []),
        ("checks", "Gradient-masking checks", "Signs that attacks failed for the wrong reasons (Carlini et al. 2019).", _checks(report)),
        ("escalation", "Escalation", "Where a check warned or an attack was still gaining when it stopped, the audit ran stronger attacks on the inputs still robust before reporting.", rs.escalation_section(report)),
        *([("queries", "Queries spent", "Every row sent to the query-only model, per attack and eps: its answers are the audit's only cost.", rs.queries_section(report))] if report.get("queries") else []),
        *([("adaptive", "Adaptive attacks", "Before attacking, the audit probed the gradient and the determinism of the model (Athalye et al. 2018): where the gradient dies in a part it attacks through it (BPDA), where the model is random it averages the gradient over draws (EOT) and evaluates every final point over seeded redraws.", adaptive_section(report))] if report.get("adaptive") else []),
        *([("passes", "Passes", "Rows through the model: one input forward (or backward) once, counted where the model is called.", passes_section(report))] if report.get("passes") else []),
        ("provenance", "Settings, model and data", "", _provenance(report)),
    ]  # fmt: skip


def render_report_html(report: dict[str, Any], gallery: Sequence[GalleryItem]) -> str:
    """The report as one self-contained HTML document (a string)."""
    if not isinstance(report, dict):
        raise InputError(f"report must be a dict in the {SCHEMA} schema, got {type(report).__name__}")
    if report.get("schema", SCHEMA) not in READABLE:
        raise InputError(f"report has schema {report.get('schema')!r}; this renderer reads {' and '.join(READABLE)}")
    model = (report.get("model") or {}).get("name") or "model"
    return report_page(f"Robustness audit: {model}", _sections(report, gallery), report, verdict=_verdict(report))


def write_report_html(report: dict[str, Any], gallery: Sequence[GalleryItem], path: str | os.PathLike[str]) -> Path:
    """Render the report and write it atomically to ``path``; returns the path."""
    from feint.io import write_text

    return write_text(path, render_report_html(report, gallery))
