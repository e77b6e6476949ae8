"""The certification report as one self-contained HTML page (schema ``feint.certify/1``).

Sections: the verdict (clean accuracy of the smoothed classifier, certified accuracy at a headline
radius, abstain rate, time per input), the certified accuracy against L2 radius (Cohen et al.
2019's curve, and a table), what a certificate means (for the smoothed classifier, with probability
1 - alpha; not for the base model), the settings and the provenance. No network, no script; every
string from the report is escaped.
"""

from __future__ import annotations

from typing import Any

from feint.report.html import definitions, esc, figure, num, pct, provenance_html, report_page, table, verdict_box
from feint.report.plots import PALETTE, figure_uri, new_figure, percent

HEADLINE_RADIUS = 0.5


def _headline(report: dict[str, Any]) -> tuple[float, float]:
    """The table's radius nearest :data:`HEADLINE_RADIUS` among those the settings can certify (all
    when none can), and its certified accuracy."""
    radii, accuracy = report["certified"]["radius"], report["certified"]["accuracy"]
    reachable = [j for j in range(len(radii)) if radii[j] <= report["max_radius"]] or range(len(radii))
    i = min(reachable, key=lambda j: abs(radii[j] - HEADLINE_RADIUS))
    return radii[i], accuracy[i]


def _verdict(report: dict[str, Any]) -> str:
    s, d, acc, t = report["settings"], report["data"], report["accuracy"], report["timings"]
    radius, certified = _headline(report)
    split = f" {esc(d['split'])}" if d.get("split") else ""
    text = (
        f"On {num(d['n'])} {esc(d['name'])}{split} inputs, the smoothed classifier (Gaussian noise of sigma "
        f"{num(s['sigma'])}, {num(s['n'])} draws per input) is right on <b>{pct(acc['smoothed'])}</b> of the clean "
        f"inputs (the base model without noise: {pct(acc['base'])}), and <b>certified</b> right within an L2 radius "
        f"of {num(radius)} on <b>{pct(certified)}</b>: a lower bound on its robust accuracy there, which no attack "
        f"can lower (each certificate wrong with probability at most {num(s['alpha'])}). It abstained on "
        f"{pct(report['abstain_rate'])} of the inputs. Certificates concern the smoothed classifier, not the base model."
    )
    boxes = [
        (pct(acc["smoothed"]), "clean accuracy of the smoothed classifier"),
        (pct(certified), f"certified accuracy at L2 radius {num(radius)}"),
        (pct(report["abstain_rate"]), "abstained (no certificate)"),
        (f"{num(t['seconds_per_input'])} s", "per certified input"),
    ]
    return verdict_box("info", text, boxes)  # a measurement, not a pass or a fail


def curve_plot(report: dict[str, Any]) -> str:
    """The certified accuracy as a step function of the L2 radius (Cohen et al. 2019, fig. 7), the
    table's radii marked and the largest radius the settings can certify drawn dotted."""
    c, t = report["curve"], report["certified"]
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    ax.step(c["radius"], percent(c["accuracy"]), where="pre", lw=2, color=PALETTE[0], label="certified accuracy")
    ax.plot(t["radius"], percent(t["accuracy"]), ls="none", marker="o", ms=5, color=PALETTE[0])
    top = report["max_radius"]
    ax.axvline(top, ls=":", lw=1.2, color="#777777")
    ax.annotate(f"largest certifiable radius {top:.3g}", (top, 97), xytext=(-4, 0), textcoords="offset points",
                ha="right", va="top", fontsize=8, color="#555555")  # fmt: skip
    ax.set_xlabel("L2 radius")
    ax.set_ylabel("certified accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.set_xlim(0, max(c["radius"]))
    ax.grid(alpha=0.3)
    return figure_uri(fig)


def _curve(report: dict[str, Any]) -> str:
    table_ = report["certified"]
    uri = curve_plot(report)
    rows = [[num(r), pct(a)] for r, a in zip(table_["radius"], table_["accuracy"], strict=True)]
    note = (
        f'<p class="muted">An input counts at radius r when CERTIFY returns its true class with a radius of at least '
        f"r; an abstention counts as wrong (Cohen et al. 2019, sec. 4). No radius above {num(report['max_radius'])} "
        f"can be certified with n = {num(report['settings']['n'])} draws at alpha = {num(report['settings']['alpha'])}, "
        "whatever the model.</p>"
    )
    return (
        figure(uri, "certified accuracy against L2 radius")
        + note
        + table(["L2 radius", "certified accuracy"], rows, numeric=(0, 1))
    )


def _meaning(report: dict[str, Any]) -> str:
    acc = report["accuracy"]
    return (
        f"<p>{esc(report['guarantee'])}</p>"
        + definitions(
            [
                ("base model, no noise", pct(acc["base"])),
                ("smoothed classifier (majority of n draws)", pct(acc["smoothed"])),
                ("certified at radius 0 (CERTIFY, abstentions wrong)", pct(acc["certified_at_zero"])),
            ]
        )
        + '<p class="muted">An attack on the base model says nothing about these certificates, and a certificate says '
        "nothing about the base model: to bound the smoothed classifier from above, attack it through the noise "
        "(<code>feint audit --norm 2 --certify SIGMA</code> puts both bounds on one chart).</p>"
    )


def _settings(report: dict[str, Any]) -> str:
    s, m, d, t = report["settings"], report["model"], report["data"], report["timings"]
    return (
        definitions(
            [
                ("sigma", num(s["sigma"])),
                ("n0 (draws choosing the class)", num(s["n0"])),
                ("n (draws certifying it)", num(s["n"])),
                ("alpha", num(s["alpha"])),
                ("seed", esc(s["seed"])),
                ("batch size (rows per pass)", num(s["batch_size"])),
                ("inputs per saved group", num(s["group_size"])),
                ("model", f"{esc(m.get('name'))} ({num(m.get('parameters'))} parameters)"),
                ("data", f"{esc(d.get('name'))} ({esc(d.get('split'))}, {num(d.get('n'))} inputs)"),
                ("total time", f"{num(t['total_seconds'])} s ({num(t['resumed_groups'])} groups resumed)"),
                ("forward rows per input", num(t["forward_rows_per_input"])),
                ("noisy draws passed through", esc(t["forward"])),
            ]
        )
        + "<h3>Provenance</h3>"
        + provenance_html(report)
    )


def render_certify_html(report: dict[str, Any]) -> str:
    model = (report.get("model") or {}).get("name") or "model"
    sections = [
        ("curve", "Certified accuracy against L2 radius", "The fraction of inputs certified correct at each radius.", _curve(report)),
        ("meaning", "What a certificate means", "", _meaning(report)),
        ("settings", "Settings, model and data", "", _settings(report)),
    ]  # fmt: skip
    return report_page(f"Randomized smoothing certificates: {model}", sections, report, verdict=_verdict(report))
