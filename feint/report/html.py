"""HTML building blocks every report shares: the page shell, stylesheet, tables, verdict boxes.

Every function that puts a value into markup escapes it (``html.escape``); only strings already
built by these helpers are passed through as markup. No external resources: the CSS is inline
and uses the system font stack.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
:root { --fg: #1d2330; --muted: #5b6474; --line: #dfe3ea; --bg: #ffffff; --soft: #f5f7fa;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--fg); line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; background: var(--bg); }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.02rem; margin: 18px 0 6px; }
p.lead, .muted { color: var(--muted); }
nav { font-size: 0.88rem; margin: 10px 0 0; display: flex; flex-wrap: wrap; gap: 2px 14px; }
nav a { color: #0b5cad; text-decoration: none; white-space: nowrap; }
.verdict { border: 1px solid var(--line); border-left: 6px solid var(--vcol, var(--fg)); border-radius: 6px;
  padding: 14px 18px; margin: 18px 0; background: #fbfcfd; }
.verdict.pass { --vcol: var(--pass); } .verdict.warn { --vcol: var(--warn); } .verdict.fail { --vcol: var(--fail); }
.figures { display: flex; gap: 14px; flex-wrap: wrap; margin: 10px 0 4px; }
.figure { flex: 1 1 200px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.figure .value { font-size: 1.6rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.figure .label { font-size: 0.84rem; color: var(--muted); }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 0.9rem; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.strong td { font-weight: 650; }
.scroll { overflow-x: auto; }
img.plot { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.badge { display: inline-block; min-width: 4.6em; text-align: center; padding: 1px 8px; border-radius: 10px;
  font-size: 0.78rem; font-weight: 700; color: #fff; letter-spacing: 0.03em; }
.badge.pass { background: var(--pass); } .badge.warn { background: var(--warn); }
.badge.fail { background: var(--fail); } .badge.unknown { background: var(--muted); }
ul.checks { list-style: none; padding: 0; } ul.checks li { padding: 6px 0; border-bottom: 1px solid var(--line); }
ul.checks .name { font-weight: 600; margin: 0 6px; }
dl.defs { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 8px 0; }
dl.defs dt { font-weight: 600; } dl.defs dd { margin: 0; overflow-wrap: anywhere; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; font-size: 0.85rem; }
.card .tiles { display: flex; gap: 8px; }
.card figure { margin: 0; text-align: center; } .card figcaption { color: var(--muted); font-size: 0.76rem; }
.card img { image-rendering: pixelated; width: 100px; height: 100px; border: 1px solid var(--line); }
.tilegrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 6px; text-align: center; font-size: 0.8rem; }
.tile img { image-rendering: pixelated; width: 112px; height: 112px; border: 1px solid var(--line); }
code { background: var(--soft); padding: 0 4px; border-radius: 3px; font-size: 0.86em; }
"""

STATUS_TEXT = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def esc(value: Any) -> str:
    """Text for HTML: ``None`` becomes a dash, everything else ``str()`` then escaped."""
    return "–" if value is None else html.escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pct(value: Any) -> str:
    """A fraction as a percentage with one decimal ("97.5%"); a dash when missing or not finite."""
    number = _number(value)
    return "–" if number is None else f"{100 * number:.1f}%"


def num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (integers as they are); a dash when missing."""
    number = _number(value)
    if number is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{number:.{digits}g}"


def badge(status: Any) -> str:
    """A coloured badge that also says its status in words (not colour alone)."""
    key = str(status).lower()
    cls = key if key in STATUS_TEXT else "unknown"
    return f'<span class="badge {cls}">{esc(STATUS_TEXT.get(key, str(status).upper()))}</span>'


def check_list(checks: Iterable[dict[str, Any]]) -> str:
    """A list of checks (``name``, ``status``, ``detail``), each with its badge."""
    items = "".join(
        f'<li>{badge(c.get("status"))}<span class="name">{esc(c.get("name"))}</span>{esc(c.get("detail"))}</li>'
        for c in checks
    )
    return f'<ul class="checks">{items}</ul>'


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = (), strong: int = -1
) -> str:
    """A table from already-formatted (escaped) cells; columns in ``numeric`` are right-aligned."""

    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="num">{text}</{tag}>' if i in numeric else f"<{tag}>{text}</{tag}>"

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        attr = ' class="strong"' if r == strong else ""
        body.append(f"<tr{attr}>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def definitions(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; the terms are escaped, the values are markup."""
    return '<dl class="defs">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def pipeline_table(pipeline: dict[str, Any]) -> str:
    """The steps of a transformation pipeline (``Compose.describe()``) with their ranges, as a table."""
    steps = [
        [esc(t["name"]), esc(", ".join(f"{k}={v}" for k, v in t.items() if k != "name"))]
        for t in pipeline.get("transforms", [])
    ]
    return "<h3>Print-and-photo steps (ranges drawn per image)</h3>" + table(["step", "range"], steps)


def figure(uri: str | None, alt: str) -> str:
    return "" if uri is None else f'<img class="plot" src="{esc(uri)}" alt="{esc(alt)}">'


def section(anchor: str, title: str, body: str, *, intro: str = "") -> str:
    """A titled section; ``intro`` is plain text shown under the title."""
    lead = f'<p class="lead">{esc(intro)}</p>' if intro else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{lead}{body}</section>'


Section = tuple[str, str, str, str]  # (anchor, title, intro as plain text, body as markup)


def verdict_box(status: str, text: str, figures: Sequence[tuple[str, str]]) -> str:
    """The headline box: ``status`` (pass/warn/fail colours the border), ``text`` (markup) and
    ``figures`` as (value markup, label text) pairs shown large."""
    boxes = "".join(
        f'<div class="figure"><div class="value">{v}</div><div class="label">{esc(k)}</div></div>' for v, k in figures
    )
    return f'<div class="verdict {esc(status)}"><p>{text}</p><div class="figures">{boxes}</div></div>'


def provenance_html(report: dict[str, Any]) -> str:
    """feint version, git revision, creation time and schema of a report (the keys of ``stamp``)."""
    return definitions(
        [
            ("feint version", esc(report.get("feint_version"))),
            ("git revision", esc(report.get("git_revision"))),
            ("created", esc(report.get("created"))),
            ("schema", esc(report.get("schema"))),
        ]
    )


def page(title: str, sections: Sequence[Section], *, subtitle: str = "", verdict: str = "") -> str:
    """One self-contained HTML document: inline CSS, no script, a table of contents, then sections."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _, _ in sections)
    body = "".join(section(a, t, content, intro=intro) for a, t, intro, content in sections)
    lead = f'<p class="lead">{esc(subtitle)}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>{lead}<nav>{nav}</nav>{verdict}{body}</main></body></html>\n"
    )


def report_page(title: str, sections: Sequence[Section], report: dict[str, Any], *, verdict: str = "") -> str:
    """:func:`page` for a report dict: the subtitle says when and with which feint it was made."""
    subtitle = f"{report.get('created')} · feint {report.get('feint_version')}"
    return page(title, sections, subtitle=subtitle, verdict=verdict)
