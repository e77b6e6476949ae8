"""The detector evaluation as one self-contained HTML page (schema ``feint.detect/1``).

Sections: the verdict (about the adaptive attack), detection per attack with ROC curves, the SPRT's
decisions (mutation testing), natural misclassifications, the adaptive attacks beside their plain
counterparts, the detector's settings and the provenance. No network, no script; every string
from the report is escaped.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from feint.report.html import Section, definitions, esc, figure, num, page, pct, provenance_html, table, verdict_box
from feint.report.plots import bar_histogram, curves_plot

COLUMNS = (
    "inputs",
    "n",
    "attacked",
    "fooled",
    "ROC-AUC",
    "TPR at 5% FPR",
    "flagged",
    "evaded",
    "ms per decision",
)


def _ms(seconds: Any) -> str:
    return "–" if seconds is None else f"{1000 * float(seconds):.3g}"


def _row(name: str, r: dict[str, Any], *, mutants: bool) -> list[str]:
    row = [
        esc(name),
        num(r.get("n")),
        num(r.get("attacked")),
        pct(r.get("success_rate")),
        num(r.get("roc_auc")),
        pct(r.get("tpr_at_5_fpr")),
        pct(r.get("flagged")),
        pct(r.get("evaded")),
        _ms(r.get("seconds_per_decision")),
    ]
    if mutants:
        row.append(num(r.get("mutants_per_decision")))
    return row


def _table(rows: list[tuple[str, dict[str, Any]]], mutants: bool) -> str:
    headers = [*COLUMNS, "mutants per decision"] if mutants else list(COLUMNS)
    return table(headers, [_row(n, r, mutants=mutants) for n, r in rows], numeric=range(1, len(headers)))


def _roc_figure(rows: dict[str, dict[str, Any]], alt: str, dashed: tuple[str, ...] = ()) -> str:
    curves = {n: (r["curve"]["fpr"], r["curve"]["tpr"]) for n, r in rows.items() if r.get("curve", {}).get("fpr")}
    if not curves:
        return '<p class="muted">No ROC curve: no adversarial input to score.</p>'
    uri = curves_plot(
        curves, xlabel="false-positive rate (clean flagged)", ylabel="true-positive rate", diagonal=True, dashed=dashed
    )
    return figure(uri, alt)


def _verdict(report: dict[str, Any]) -> str:
    attacks = [a["roc_auc"] for a in report["attacks"].values() if a["roc_auc"] is not None]
    figures = [(num(min(attacks)) if attacks else "–", "lowest ROC-AUC, plain attacks")]
    for entry in report["adaptive"]:
        figures.append((num(entry["adaptive"]["roc_auc"]), f"ROC-AUC, {entry['name']}"))
    figures.append((pct(report["clean"]["flagged"]), "clean inputs flagged (false positives)"))
    if report["sprt"]:
        figures.append((num(report["sprt"]["mutants_per_decision"]), "mutants per SPRT decision"))
    else:
        figures.append((_ms(report["clean"]["seconds_per_decision"]), "ms per decision"))
    return verdict_box(report["summary"]["status"], esc(report["summary"]["headline"]), figures)


def _budget(name: str, settings: dict[str, Any]) -> str:
    """What the attack ``name`` was allowed: its eps and norm, or that it finds its own size."""
    from feint.attacks.registry import ATTACKS

    spec = ATTACKS.get(name)
    own = dict((settings.get("params") or {}).get(name) or {})
    if spec is None:
        return f"eps {num(own.get('eps', settings.get('eps')))}"
    options = {**spec.parameters(), **own}
    norm = str(options.get("norm", spec.norms[0]))
    label = "Linf" if norm == "inf" else f"L{norm}"
    if "eps" not in spec.parameters():
        return f"no eps: the smallest {label} perturbation it finds" if spec.minimum_norm else f"{label}, no eps"
    return f"{label} eps {num(own.get('eps', settings.get('eps')))}"


def _budgets(report: dict[str, Any]) -> str:
    settings = report.get("settings") or {}
    pairs = [(name, esc(_budget(name, settings))) for name in settings.get("attacks") or report["attacks"]]
    return "<h3>Attack budgets</h3>" + definitions(pairs) if pairs else ""


def _detection(report: dict[str, Any]) -> str:
    mutants = report["sprt"] is not None
    rows = [("clean, correctly classified", report["clean"]), *list(report["attacks"].items())]
    note = (
        '<p class="muted">Positives: adversarial inputs that fool the model, crafted from the clean inputs it '
        "classifies correctly (the negatives). <i>flagged</i>: the detector's own decisions at its threshold "
        f"({num(report['detector']['threshold'])}); <i>evaded</i>: share of the attacked inputs that fool the model "
        "and are not flagged.</p>"
    )
    return note + _table(rows, mutants) + _budgets(report) + _roc_figure(report["attacks"], "ROC curves per attack")


def _sprt(report: dict[str, Any]) -> str:
    s = report["sprt"]
    d = report["detector"]
    text = (
        f"<p>Wald's SPRT with alpha = beta = {num(d['settings']['alpha'])} / {num(d['settings']['beta'])} and the "
        f"indifference region {num(d['threshold'])} ± {num(d['sigma'])} decided <b>{pct(s['accuracy'])}</b> of "
        f"{num(s['decisions'])} inputs correctly (clean as normal, adversarial as adversarial), drawing "
        f"<b>{num(s['mutants_per_decision'])}</b> mutants per decision on average; {num(s['undecided'])} inputs "
        f"exhausted the pool of {num(d['pool']['size'])} mutants undecided.</p>"
    )
    adversarial: list[float] = []
    for a in report["attacks"].values():
        counts = a.get("mutants_histogram") or []
        adversarial = [x + y for x, y in zip_longest(adversarial, counts, fillvalue=0)]
    series = {
        "clean (correct)": report["clean"].get("mutants_histogram") or [],
        "adversarial (all attacks)": adversarial,
    }
    shares = {n: [c / max(1, sum(h)) for c in h] for n, h in series.items() if h}
    plot = (
        bar_histogram(shares, xlabel="mutants drawn before the SPRT decided", ylabel="share of inputs")
        if shares
        else None
    )
    return text + figure(plot, "mutants per SPRT decision")


def _natural(report: dict[str, Any]) -> str:
    r = report["natural_misclassified"]
    if not r["n"]:
        return '<p class="muted">The model classifies every clean input correctly.</p>'
    return (
        f"<p>{num(r['n'])} clean inputs the model gets wrong are neither negatives nor positives above. The "
        f"detector flags <b>{pct(r['flagged'])}</b> of them (clean, correct: {pct(report['clean']['flagged'])}); "
        f"their scores against the correctly classified ones give ROC-AUC {num(r['roc_auc'])}. Mutation testing "
        "and uncertainty both respond to inputs near a decision boundary, natural errors included.</p>"
    )


def _adaptive(report: dict[str, Any]) -> str:
    if not report["adaptive"]:
        return '<p class="muted">No adaptive attack was run (--no-adaptive); the numbers above are optimistic.</p>'
    parts, mutants = [], report["sprt"] is not None
    for e in report["adaptive"]:
        rows = [(e["counterpart"], e["plain"]), (e["name"], e["adaptive"])]
        drop = e["drop"]
        parts.append(
            f"<p><b>{esc(e['name'])}</b>: {esc(e['description'])}.</p>"
            + _table(rows, mutants)
            + f"<p>Drop against the plain {esc(e['counterpart'])}: ROC-AUC <b>{num(drop['roc_auc'])}</b>, TPR at 5% "
            f"FPR <b>{pct(drop['tpr_at_5_fpr'])}</b>, flagged <b>{pct(drop['flagged'])}</b>.</p>"
            + _roc_figure(
                {e["counterpart"]: e["plain"], e["name"]: e["adaptive"]}, "plain vs adaptive ROC", (e["name"],)
            )
        )
    return "".join(parts)


def _value(value: Any) -> str:
    """A setting or learned value for reading: numbers to 4 digits, lists and dicts spelled out."""
    if isinstance(value, float):
        return num(value, 4)
    if isinstance(value, dict):
        return "; ".join(f"{esc(k.replace('_', ' '))} {_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) if value else "–"
    return esc(value)


def _detector(report: dict[str, Any]) -> str:
    d = report["detector"]
    pairs = [("kind", esc(d["kind"])), ("threshold", num(d["threshold"], 4))]
    pairs += [(k.replace("_", " "), _value(v)) for k, v in d.items() if k not in ("kind", "threshold", "settings")]
    pairs += [(f"setting: {k}", _value(v)) for k, v in d["settings"].items()]
    return definitions(pairs)


def render_detect_html(report: dict[str, Any]) -> str:
    data = report["data"]
    kind = report["detector"]["kind"]
    sections: list[Section] = [
        ("detection", "Detection per attack", "", _detection(report)),
    ]
    if report["sprt"]:
        sections.append(("sprt", "SPRT decisions", "", _sprt(report)))
    sections += [
        ("natural", "Natural misclassifications", "", _natural(report)),
        (
            "adaptive",
            "Adaptive attacks",
            "Attacks that know about the detector (Carlini & Wagner 2017).",
            _adaptive(report),
        ),
        ("detector", "Detector", "", _detector(report)),
        ("provenance", "Provenance", "", provenance_html(report)),
    ]
    eps = num((report.get("settings") or {}).get("eps"))
    subtitle = f"{kind} detector on {report['model']['name']}, {data.get('n')} {data.get('name')} {data.get('split') or ''} inputs, attacks at eps {eps}"
    return page(f"Detector evaluation: {kind}", sections, subtitle=subtitle, verdict=_verdict(report))
