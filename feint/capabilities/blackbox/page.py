"""The substitute attack's page (``report.html``): verdict, training rounds, transfer curves, gallery, settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feint.report.gallery import GalleryItem, gallery_html
from feint.report.html import definitions, esc, figure, num, pct, provenance_html, report_page, table, verdict_box
from feint.report.plots import line_plot


def _verdict(r: dict[str, Any]) -> str:
    s, q, t = r["settings"], r["queries"], r["transfer"]
    last = r["rounds"][-1] if r["rounds"] else {}
    i = len(r["eps"]) - 1
    text = (
        f"A <b>{esc(s['arch'])}</b> substitute trained on <b>{num(q['training'])}</b> label queries "
        f"({len(r['rounds'])} rounds{'' if q['budget'] is None else ', budget ' + num(q['budget'])}) agrees with the "
        f"target on {pct(last.get('agreement'))} of {num(r['data']['n'])} held-out inputs. "
        f"{esc(s['attack'])} examples crafted on it at eps {num(r['eps'][i])} make the target misclassify "
        f"<b>{pct(t['error_rate'][i])}</b> of them; random sign noise of the same size: {pct(t['noise_error_rate'][i])}; "
        f"clean: {pct(1 - r['target']['clean_accuracy'])}."
    )
    beats = t["error_rate"][i] > t["noise_error_rate"][i]
    boxes = [
        (pct(t["error_rate"][i]), f"target error at eps {num(r['eps'][i])}"),
        (pct(t["noise_error_rate"][i]), "with random noise of that size"),
        (pct(last.get("agreement")), "substitute–target agreement"),
        (num(q["training"]), "training queries"),
    ]
    return verdict_box("pass" if beats else "warn", text, boxes)


def _training(r: dict[str, Any]) -> str:
    rounds = r["rounds"]
    xs = [int(x["round"]) for x in rounds]
    agree = line_plot(
        xs,
        {
            "agreement with the target": [x["agreement"] for x in rounds],
            "accuracy (true labels)": [x["accuracy"] for x in rounds],
        },
        xlabel="substitute round",
        ylabel="on held-out inputs (%)",
        bold=("agreement with the target",),
        height=3.4,
    )
    queries = line_plot(
        xs,
        {"training queries (cumulative)": [x["queries"] for x in rounds]},
        xlabel="substitute round",
        ylabel="oracle queries",
        percent_axis=False,
        height=3.0,
    )
    rows = [
        [
            num(x["round"]),
            num(x["set_size"]),
            num(x["new_points"]),
            num(x["queries"]),
            num(x["step"]),
            pct(x["agreement"]),
            pct(x["accuracy"]),
        ]
        for x in rounds
    ]
    headers = [
        "round",
        "training set",
        "new points (queried)",
        "queries so far",
        "step lambda",
        "agreement",
        "accuracy",
    ]
    return (
        figure(agree, "agreement per round")
        + figure(queries, "queries per round")
        + table(headers, rows, numeric=range(7))
    )


def _transfer(r: dict[str, Any]) -> str:
    t, eps = r["transfer"], r["eps"]
    clean_error = 1 - r["target"]["clean_accuracy"]
    uri = line_plot(
        eps,
        {
            f"target error, {r['settings']['attack']} transferred": t["error_rate"],
            "substitute error (white-box)": t["substitute_success"],
            "target error, random sign noise": t["noise_error_rate"],
            "target error, clean": [clean_error] * len(eps),
        },
        xlabel="eps (L∞)",
        ylabel="misclassified (%)",
        bold=(f"target error, {r['settings']['attack']} transferred",),
        dashed=("target error, random sign noise",),
    )
    rows = [
        [
            num(e),
            f"<b>{pct(t['error_rate'][i])}</b>",
            pct(t["flip_rate"][i]),
            pct(t["noise_error_rate"][i]),
            pct(t["substitute_success"][i]),
        ]
        for i, e in enumerate(eps)
    ]
    headers = ["eps", "target error", "of the inputs it got right", "noise error", "substitute fooled"]
    return figure(uri, "target error against eps") + table(headers, rows, numeric=range(5))


def _settings(r: dict[str, Any]) -> str:
    s, q = r["settings"], r["queries"]
    pairs = [
        ("target", f"{esc(r['target']['name'])} ({esc(r['target']['access'])} access)"),
        (
            "substitute",
            f"{esc(s['arch'])}, {num(r['substitute']['parameters'])} parameters, saved in {esc(r['substitute']['run_dir'])}",
        ),
        (
            "data",
            f"{esc(r['data']['name'])}: S0 = {num(r['data']['n_seed'])} held-out inputs, measured on {num(r['data']['n'])} others",
        ),
        ("rounds, lambda, tau", f"{num(s['rounds'])}, {num(s['lam'])}, {esc(s['tau'])}"),
        (
            "reservoir sampling",
            "off" if s["sigma"] is None else f"from augmentation {num(s['sigma'])} on, kappa = {num(s['kappa'])}",
        ),
        ("training per round", f"{num(s['epochs'])} epochs, Adam lr {num(s['lr'])}, batch {num(s['batch_size'])}"),
        ("attack", f"{esc(s['attack'])} {esc(s.get('attack_params') or '')}"),
        (
            "queries",
            f"{num(q['training'])} training (budget {esc(q['budget'])}), {num(q['measurement'])} measurement; "
            f"the target's query counter counted {num(q['oracle_counted'])} in this run",
        ),
        ("time", f"{num(r['timings']['total_seconds'])} s"),
    ]
    return definitions(pairs) + "<h3>Provenance</h3>" + provenance_html(r)


def render_html(report: dict[str, Any], gallery: Sequence[GalleryItem]) -> str:
    """The ``feint.blackbox/1`` report as one self-contained HTML document."""
    notes = report.get("notes") or []
    note_html = "".join(f"<li>{esc(n)}</li>" for n in notes) or "<li>none</li>"
    sections = [
        ("training", "Substitute training", "Per round: the training set S_rho, the new points sent to the oracle (only those are queried), and how often the substitute agrees with the target on held-out inputs.", _training(report)),
        ("transfer", "Transfer against eps", "Adversarial inputs crafted on the substitute (white-box) and sent to the target, beside random sign noise of the same size. Error counts every held-out input the target misclassifies.", _transfer(report)),
        ("gallery", "Transferred examples", "Held-out inputs the target classified correctly and misclassifies after the attack, at the largest eps; the labels are the target's answers.", gallery_html(gallery)),
        ("notes", "Notes", "", f"<ul>{note_html}</ul>"),
        ("settings", "Settings and provenance", "", _settings(report)),
    ]  # fmt: skip
    return report_page(f"Substitute attack on {report['target']['name']}", sections, report, verdict=_verdict(report))
