"""The patch report page (schema ``feint.patch/1``), self-contained.

The pattern at full size (a universal perturbation amplified about mid grey), applied held-out
examples with the model's predictions, the success against area or norm beside a random
pattern's, the success and destruction rate under each step of the print-and-photo pipeline
(as on ``feint physical``'s page), the printability, and the split and settings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from feint.report.plots import image_uri, line_plot, perturbation_image

PAPERS = {
    "sticker": "Eykholt et al. 2018 (RP2), Sharif et al. 2016",
    "patch": "Brown et al. 2017",
    "universal": "Moosavi-Dezfooli et al. 2017",
}
NAMES = {"sticker": "Sticker", "patch": "Adversarial patch", "universal": "Universal perturbation"}
NOUNS = {"sticker": "sticker", "patch": "patch", "universal": "universal perturbation"}


def _aim(report: dict[str, Any]) -> str:
    s = report["settings"]
    names = report["data"].get("class_names") or []

    def name(k: int) -> str:
        return f"{k} ({names[k]})" if k < len(names) and str(names[k]) != str(k) else str(k)

    aim = f"targeted at class {esc(name(s['target']))}" if s["target"] is not None else "untargeted"
    return aim + (f", on images of class {esc(name(s['source']))}" if s["source"] is not None else "")


def _budget(report: dict[str, Any]) -> str:
    p = report["pattern"]
    return (
        f"{pct(p['area'])} of the image"
        if p["area"] is not None
        else f"L{'∞' if p['norm'] == 'inf' else '2'} ≤ {num(p['eps'])}"
    )


def _verdict(report: dict[str, Any]) -> str:
    success = report["success"]
    whole: dict[str, Any] = next((r for r in report["physical"] if r["transform"] == "pipeline"), {})
    rate = success["rate"] or 0.0
    status = "fail" if rate >= 0.5 else "warn" if rate > (success["baseline"] or 0.0) + 0.05 else "pass"
    text = (
        f"A {NOUNS[report['kind']]} {'of' if report['kind'] == 'universal' else 'covering'} {_budget(report)}, {_aim(report)}, trained on {report['split']['fit']} "
        f"inputs, succeeds on <b>{pct(success['rate'])}</b> of {success['counted']} held-out inputs "
        f"(a random pattern of the same size: {pct(success['baseline'])})."
    )
    figures = [
        (pct(success["rate"]), "held-out success"),
        (pct(success["baseline"]), "random pattern, same size"),
        (pct(whole.get("success")), "success after print and photo"),
    ]
    if report["printability"] is not None:
        figures.append((num(report["printability"]["distance"]), "mean distance to the printable palette"))
    return verdict_box(status, text, figures)


def _pattern(report: dict[str, Any], pattern: np.ndarray) -> str:
    if report["kind"] == "universal":
        shown, gain = perturbation_image(pattern)
        note = f'<p class="muted">Mid grey is 0; amplified {num(gain)}x so the largest change fills the range.</p>'
    else:
        shown, note = pattern, ""
    size = 320
    shape = " x ".join(str(v) for v in report["pattern"]["shape"])
    return (
        f'<img class="plot" style="image-rendering: pixelated; width: {size}px; padding: 14px; background: #8a8f98" '
        f'src="{image_uri(shown, size=size)}" alt="the {esc(report["kind"])}">'
        f"{note}<p>On a grey frame (not part of it{'; the grey inside is outside the mask' if report['kind'] == 'sticker' else ''}). Shape (C x H x W): {esc(shape)} · saved as <code>{esc(report['files']['pattern'])}</code> "
        "(<code>pattern</code>, <code>mask</code>, <code>kind</code>, <code>target</code>, the budget and the split).</p>"
    )


def _gallery(report: dict[str, Any], tiles: dict[str, np.ndarray]) -> str:
    cells = []
    for j, g in enumerate(report["gallery"]):
        cells.append((tiles["clean"][j], f"#{g['id']} clean<br>label {esc(g['label'])} → {esc(g['clean_prediction'])}"))
        fooled = g["prediction"] != g["label"]
        cells.append(
            (
                tiles["applied"][j],
                f"with the {NOUNS[report['kind']]}<br>→ <b>{esc(g['prediction'])}</b>{'' if fooled else ' (not fooled)'}",
            )
        )
    return tile_grid(cells, columns=6)


def _curve(report: dict[str, Any]) -> str:
    c = report["curve"]
    if not c["values"]:
        return '<p class="muted">No curve.</p>'
    label = "fraction of the image covered" if c["axis"] == "area" else f"eps (L{report['pattern']['norm']})"
    rows = [[num(v), pct(a), pct(b)] for v, a, b in zip(c["values"], c["success"], c["baseline"], strict=True)]
    table_html = table([c["axis"], f"{report['kind']} success", "random pattern"], rows, numeric=(0, 1, 2))
    if len(c["values"]) < 2:
        return table_html
    plot = line_plot(
        c["values"],
        {f"{report['kind']}": c["success"], "random pattern, same size": c["baseline"]},
        xlabel=label,
        ylabel="held-out success (%)",
        dashed=("random pattern, same size",),
        bold=(report["kind"],),
    )
    return figure(plot, f"success against {c['axis']}") + table_html


def _physical(report: dict[str, Any]) -> str:
    rows = [
        [
            esc("whole pipeline" if r["transform"] == "pipeline" else r["transform"]),
            pct(r["success"]),
            pct(r["destruction"]),
            num(r["destroyed"]),
            num(r["fooled"]),
        ]
        for r in report["physical"]
    ]
    return table(
        ["transformation", "success after it", "destruction rate", "undone", "fooled untransformed"],
        rows,
        numeric=(1, 2, 3, 4),
        strong=len(rows) - 1,
    )


def _printability(report: dict[str, Any]) -> str:
    p = report["printability"]
    if p is None:
        return '<p class="muted">A universal perturbation is added to the image, not printed on its own: no printability score.</p>'
    colours = len(p["palette"])
    return definitions(
        [
            ("mean distance to the nearest printable colour", num(p["distance"])),
            ("the same for a random pattern", num(p["baseline_distance"])),
            ("non-printability score (Sharif et al. 2016)", num(p["nps"])),
            ("palette", f"{colours} colours"),
            ("printability weight in training", num(report["settings"].get("printability"))),
            ("smoothness (total variation) weight", num(report["settings"].get("smoothness"))),
        ]
    )


def _placement(placement: dict[str, Any] | None) -> str:
    if not placement:
        return "–"
    (s0, s1), (d0, d1) = placement["scale"], placement["degrees"]
    return f"anywhere in the image, side scaled {num(s0)}–{num(s1)}x, rotated {num(d0)}° to {num(d1)}° (uniform, per image)"


def _settings(report: dict[str, Any]) -> str:
    s, sp, m, d = report["settings"], report["split"], report["model"], report["data"]
    facts = [
        ("model", esc(m.get("name"))),
        ("data", f"{esc(d.get('name'))} ({esc(d.get('split'))} split, {num(d.get('n'))} inputs)"),
        ("held-out split", f"{sp['held_out']} inputs measured, {sp['fit']} trained on (fraction {num(sp['fraction'])}, seed {sp['seed']}); the ids are in <code>{esc(report['files']['pattern'])}</code>"),
        ("training", f"{s['steps']} {'passes' if report['kind'] == 'universal' else 'steps'}, {num(report['training']['rows'])} rows through the model, {num(report['training']['seconds'])} s"),
        ("draws per held-out input", num(s["draws"])),
        ("placement", _placement(s.get("placement"))),
        ("time", f"{num(report['seconds'])} s"),
    ]  # fmt: skip
    return definitions(facts) + pipeline_table(s["pipeline"]) + "<h3>Provenance</h3>" + provenance_html(report)


def render_patch_html(report: dict[str, Any], pattern: np.ndarray, tiles: dict[str, np.ndarray]) -> str:
    """The page; ``pattern`` (C, h, w) in the image's [0, 1] units (a perturbation: as it is), ``tiles``
    the gallery's "clean" and "applied" images (n, C, H, W) in [0, 1]."""
    kind = report["kind"]
    axis = "area" if report["curve"]["axis"] == "area" else "norm"
    sections = [
        ("pattern", f"The {NOUNS[kind]}", "At full size, as saved; it is added to every image." if kind == "universal" else "At full size, as saved; print it as it is.", _pattern(report, pattern)),
        ("examples", "Applied to held-out inputs", "Held-out inputs the model classifies correctly, without and with the pattern, with its predictions.", _gallery(report, tiles)),
        ("curve", f"Success against {axis}", "Held-out success of the pattern and of a random pattern of the same size.", _curve(report)),
        ("physical", "Through the print-and-photo pipeline", "Success after each step of the simulation on its own and after the whole chain; the destruction rate is the fraction of fooled (input, draw) pairs the transformation undoes (Kurakin et al. 2016). A transformation also misleads the model on its own, so the success after it can exceed the success without.", _physical(report)),
        ("printability", "Printability", "How close the pattern's colours are to what a printer reproduces.", _printability(report)),
        ("settings", "Split, settings, model and provenance", "", _settings(report)),
    ]  # fmt: skip
    title = f"{NAMES[kind]}: {report['model'].get('name', 'model')}"
    subtitle = f"{report.get('created')} · feint {report.get('feint_version')} · {PAPERS[kind]}"
    return page(title, sections, subtitle=subtitle, verdict=_verdict(report))
