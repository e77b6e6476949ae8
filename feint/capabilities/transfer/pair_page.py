"""The transfer (pair) page (``report.html``): verdict, accuracy curves, targeted success, gallery, settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feint.capabilities.transfer.pair_report import NOISE
from feint.report.gallery import GalleryItem, gallery_html
from feint.report.html import definitions, esc, figure, num, pct, provenance_html, report_page, table, verdict_box
from feint.report.plots import line_panels


def _verdict(r: dict[str, Any]) -> str:
    curves, i = r["curves"], len(r["eps"]) - 1
    first, last = curves[0], curves[-1]
    e = num(r["eps"][i])
    text = (
        f"At eps {e}, examples crafted on <b>{esc(r['source']['name'])}</b> with T = {first['steps']} leave "
        f"<b>{esc(r['target']['name'])}</b> right on <b>{pct(first['target_accuracy'][i])}</b> of "
        f"{num(r['data']['n'])} inputs"
    )
    if len(curves) > 1:
        text += f", with T = {last['steps']} on {pct(last['target_accuracy'][i])}"
    text += (
        f"; random sign noise of the same size leaves it right on {pct(r['noise']['target_accuracy'][i])} "
        f"(clean: {pct(r['clean']['target_accuracy'])}). On the source itself (white-box): "
        f"{pct(first['source_accuracy'][i])} with T = {first['steps']}."
    )
    beats = first["target_accuracy"][i] < r["noise"]["target_accuracy"][i]
    boxes = [(pct(c["target_accuracy"][i]), f"target accuracy, T = {c['steps']}") for c in (first, last)][: len(curves)]
    boxes += [(pct(r["noise"]["target_accuracy"][i]), f"target accuracy, noise eps {e}")]
    return verdict_box("pass" if beats else "warn", text, boxes)


def _curves(r: dict[str, Any], key: str, noise: str | None, title: str) -> dict[str, Any]:
    series: dict[str, Any] = {f"T = {c['steps']}": c[key] for c in r["curves"]}
    if noise is not None:
        series[NOISE] = r["noise"][noise]
    return {title: series}


def _accuracy(r: dict[str, Any]) -> str:
    panels = _curves(r, "source_accuracy", "source_accuracy", f"white-box: {r['source']['name']}")
    panels |= _curves(r, "target_accuracy", "target_accuracy", f"black-box: {r['target']['name']}")
    uri = line_panels(r["eps"], panels, xlabel="eps (L∞)", ylabel="accuracy (%)", dashed=(NOISE,))
    headers = ["T", *(f"eps {num(e)}" for e in r["eps"])]
    rows = [[f"T = {c['steps']}", *(pct(a) for a in c["target_accuracy"])] for c in r["curves"]]
    rows.append([NOISE, *(pct(a) for a in r["noise"]["target_accuracy"])])
    white = [[f"T = {c['steps']}", *(pct(a) for a in c["source_accuracy"])] for c in r["curves"]]
    return (
        figure(uri, "accuracy against eps, white-box and black-box")
        + "<h3>Target accuracy (black-box)</h3>"
        + table(headers, rows, numeric=range(1, len(headers)))
        + "<h3>Source accuracy (white-box)</h3>"
        + table(headers, white, numeric=range(1, len(headers)))
    )


def _targeted(r: dict[str, Any]) -> str:
    if not r["settings"]["targeted"]:
        return '<p class="muted">The attack was untargeted (pass --targeted for the targeted figures).</p>'
    panels = _curves(r, "source_target_success", None, f"white-box: {r['source']['name']}")
    panels |= _curves(r, "target_target_success", None, f"black-box: {r['target']['name']}")
    uri = line_panels(r["eps"], panels, xlabel="eps (L∞)", ylabel="predicts the target class (%)")
    headers = ["T", *(f"eps {num(e)}" for e in r["eps"])]
    rows = [[f"T = {c['steps']}", *(pct(a) for a in c["target_target_success"])] for c in r["curves"]]
    return figure(uri, "targeted success against eps") + table(headers, rows, numeric=range(1, len(headers)))


def _settings(r: dict[str, Any]) -> str:
    s = r["settings"]
    pairs = [
        ("source (white-box)", f"{esc(r['source']['name'])}: {esc(r['source']['description'])}"),
        ("target (black-box)", f"{esc(r['target']['name'])} ({esc(r['target']['access'])} access)"),
        ("data", f"{esc(r['data']['name'])} ({esc(r['data']['split'])}, {num(r['data']['n'])} inputs)"),
        ("attack", f"{esc(s['attack'])}, T in {esc(s['steps'])}, eta = eps / T, {esc(s['params'])}"),
        ("targeted", "random wrong classes" if s["targeted"] else "no"),
        ("target queries", num(r["queries"]["target"])),
        ("time", f"{num(r['timings']['total_seconds'])} s"),
    ]
    return definitions(pairs) + "<h3>Provenance</h3>" + provenance_html(r)


def render_html(report: dict[str, Any], gallery: Sequence[GalleryItem]) -> str:
    """The ``feint.transfer/1`` report as one self-contained HTML document."""
    sections = [
        ("accuracy", "White-box and black-box accuracy", "Left: the source attacked white-box. Right: the same examples sent to the target, which only answers labels. One line per step count T (eta = eps / T); random sign noise of the same size dashed.", _accuracy(report)),
        ("targeted", "Targeted success", "How often each model predicts the class the attack aimed at.", _targeted(report)),
        ("gallery", "Transferred examples", "Inputs the target classified correctly and misclassifies after the attack (fewest steps, largest eps); the labels are the target's answers.", gallery_html(gallery)),
        ("settings", "Settings and provenance", "", _settings(report)),
    ]  # fmt: skip
    title = f"Transfer: {report['source']['name']} → {report['target']['name']}"
    return report_page(title, sections, report, verdict=_verdict(report))
