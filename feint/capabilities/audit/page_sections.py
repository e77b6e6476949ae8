"""The number sections of the audit report (schema ``feint.audit/1``) as HTML fragments.

Each function takes the report dict and returns escaped markup: accuracy against eps with its
plot, Goodfellow, Shlens & Szegedy (2015)'s error-rate/confidence table, per-class robust
accuracy, perturbation sizes (L0, L2, Linf), minimum-norm distances and the outcome categories
of Billovits, Eric & Agarwala (2016), "Hitting Depth: Investigating Robustness to Adversarial
Examples in Deep Convolutional Neural Networks".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feint.capabilities.audit import page_plots as plots
from feint.report.html import definitions, esc, figure, num, pct, table

OUTCOME_TEXT = {
    "benign": "the clean input was misclassified; the adversarial one is classified correctly.",
    "refocused": "the new class was the clean input's runner-up and the true class is still in the top 2.",
    "conatural": "the new class is one the model already confuses most with the true class on clean data.",
    "true_adversarial": "any other misclassification: a label unrelated to the input.",
}


def norm_name(norm: Any) -> str:
    return "L∞" if str(norm) in ("inf", "linf") else f"L{norm}"


def at(values: Sequence[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def accuracy_section(report: dict[str, Any]) -> str:
    eps = [float(e) for e in report.get("eps") or []]
    attacks = report.get("attacks") or {}
    noise = ((report.get("baselines") or {}).get("noise") or {}).get("accuracy")
    worst = (report.get("worst_case") or {}).get("accuracy") or []
    norm = str((report.get("settings") or {}).get("norm", "inf"))
    redrawn = ((report.get("adaptive") or {}).get("randomized") or {}).get("accuracy_mean")
    uri = None
    if eps:
        curves = {name: a.get("accuracy") or [] for name, a in attacks.items()}
        if redrawn:
            curves["mean over redraws (headline)"] = redrawn
        uri = plots.accuracy_plot(
            eps, curves, worst_case=worst, noise=noise, clean_accuracy=report.get("clean_accuracy"), norm=norm
        )
    # One row per attack, one column per eps: an escalated audit adds rows, never columns, so the
    # worst case (the last row, or the mean over redraws after it) stays on the page however many ran.
    series = [(esc(name), a.get("accuracy")) for name, a in attacks.items()]
    series += [("noise", noise)] if noise is not None else []
    series += [("worst case", worst)] + ([("mean over redraws", redrawn)] if redrawn else [])
    headline = len(series) - 1
    rows = [
        [f"<b>{name}</b>" if r == headline else name]
        + [f"<b>{pct(at(values, i))}</b>" if r == headline else pct(at(values, i)) for i in range(len(eps))]
        for r, (name, values) in enumerate(series)
    ]
    headers = ["attack", *(f"eps {num(e)}" for e in eps)]
    note = (
        "<p class=\"muted\">A randomized model: each attack's column and the worst case are one draw's verdicts on "
        "the attacks' points; the headline is the mean over the redraws of the final points, after the final "
        "EOT-PGD (see Adaptive attacks).</p>"
        if redrawn
        else ""
    )
    breaking = (report.get("worst_case") or {}).get("attack_breaking") or {}
    summary = [
        [esc(n), esc(a.get("kind")), num(a.get("queries")), num(a.get("seconds")), num(breaking.get(n))]
        for n, a in attacks.items()
    ]
    return (
        figure(uri, "accuracy against eps for each attack")
        + table(headers, rows, numeric=range(1, len(headers)))
        + note
        + "<h3>Attacks</h3>"
        + table(["attack", "kind", "queries", "seconds", "inputs it broke first"], summary, numeric=(2, 3, 4))
    )


def label_only(report: dict[str, Any]) -> bool:
    """A model that answers labels only: no confidence or runner-up class can be computed."""
    return (report.get("access") or {}).get("level") == "labels"


def goodfellow_section(report: dict[str, Any]) -> str:
    """Error rate and (unless the model answers labels only) the mean confidence of the misclassified."""
    scores = not label_only(report)
    rows = [
        [num(r.get("eps")), esc(r.get("attack")), pct(r.get("error_rate"))]
        + ([pct(r.get("mean_confidence_misclassified"))] if scores else [])
        for r in report.get("goodfellow") or []
    ]
    if not rows:
        return '<p class="muted">No error-rate rows in this audit.</p>'
    headers = ["eps", "attack", "error rate", *(["mean confidence of the misclassified"] if scores else [])]
    note = "" if scores else '<p class="muted">The model answers labels only: its confidence is never revealed.</p>'
    return table(headers, rows, numeric=(0, 2, 3)) + note


def per_class_section(report: dict[str, Any]) -> str:
    pc = report.get("per_class") or {}
    names, robust, eps = pc.get("class_names") or [], pc.get("robust") or [], report.get("eps") or []
    if not names or not robust:
        return '<p class="muted">No per-class figures in this audit.</p>'
    uri = plots.per_class_heatmap(names, [float(e) for e in eps], robust, clean=pc.get("clean"))
    headers = ["class", "clean", *(f"eps {num(e)}" for e in eps)]
    rows = [[esc(c), pct(at(pc.get("clean"), k)), *(pct(at(r, k)) for r in robust)] for k, c in enumerate(names)]
    details = table(headers, rows, numeric=range(1, len(headers)))
    return (
        figure(uri, "robust accuracy per class and eps") + f"<details><summary>As a table</summary>{details}</details>"
    )


def perturbations_section(report: dict[str, Any]) -> str:
    rows_in = report.get("perturbation_sizes") or []
    if not rows_in:
        return '<p class="muted">No successful perturbations to measure.</p>'
    keys = ("l0", "l2", "linf")
    rows = [
        [num(r.get("eps"))] + [num((r.get(k) or {}).get(s)) for k in keys for s in ("median", "mean")] for r in rows_in
    ]
    headers = ["eps", "L0 median", "L0 mean", "L2 median", "L2 mean", "L∞ median", "L∞ mean"]
    return table(headers, rows, numeric=range(7)) + figure(plots.perturbation_plot(rows_in), "perturbation sizes")


def min_norm_section(report: dict[str, Any]) -> str:
    mn = report.get("min_norm")
    if not mn:
        return '<p class="muted">No minimum-norm attack ran in this audit.</p>'
    quantiles = mn.get("distances_quantiles") or {}
    facts = definitions(
        [
            ("attack", esc(mn.get("attack"))),
            ("norm", esc(norm_name(mn.get("norm")))),
            ("median distance", num(mn.get("median"))),
        ]
    )
    rows = [[f"{100 * q:.0f}%", num(d)] for q, d in plots.quantile_points(quantiles)]
    uri = plots.min_norm_plot(quantiles, norm=str(mn.get("norm", "2")))
    return (
        facts
        + (table(["quantile", "distance"], rows, numeric=(0, 1)) if rows else "")
        + figure(uri, "minimum-norm distances")
    )


def outcomes_section(report: dict[str, Any]) -> str:
    defs = definitions((name.replace("_", " "), esc(text)) for name, text in OUTCOME_TEXT.items())
    rows = [[num(r.get("eps")), *(num(r.get(k)) for k in OUTCOME_TEXT)] for r in report.get("outcomes") or []]
    body = table(["eps", *(k.replace("_", " ") for k in OUTCOME_TEXT)], rows, numeric=range(5)) if rows else ""
    return defs + (body or '<p class="muted">No outcome counts in this audit.</p>')


def escalation_section(report: dict[str, Any]) -> str:
    """Whether the audit escalated, where and why, and what each rung of stronger attacks broke."""
    esc_ = report.get("escalation") or {}
    if not esc_.get("escalated"):
        return f'<p class="muted">{esc(not_escalated(report))}</p>'

    reasons = table(
        ["eps", "why the audit escalated"],
        [[num(r.get("eps")), esc("; ".join(r.get("reasons") or []))] for r in esc_.get("reasons") or []],
        numeric=(0,),
    )
    spend = ((report.get("queries") or {}).get("per_attack")) or {}
    rungs = table(
        ["attack", "settings", "eps it ran at", "inputs it broke", "queries", "seconds"],
        [
            [
                esc(r.get("attack")),
                esc(", ".join(f"{k}={v}" for k, v in (r.get("params") or {}).items())),
                esc(", ".join(f"{e:g}" for e in r.get("eps") or [])),
                esc(", ".join(str(b) for b in r.get("broke") or [])),
                num((spend.get(r.get("attack")) or {}).get("total")) if spend else "",
                num(r.get("seconds")),
            ]
            for r in esc_.get("rungs") or []
        ],
        numeric=(4, 5),
    )
    return reasons + "<h3>Rungs run</h3>" + rungs


def not_escalated(report: dict[str, Any]) -> str:
    """Why an audit did not escalate, in words that never contradict its checks."""
    esc_ = report.get("escalation") or {}
    flagged = [c for c in report.get("checks") or [] if c.get("status") != "pass"]
    if esc_.get("reasons"):
        where = "; ".join(f"at eps {r.get('eps'):g}: {'; '.join(r.get('reasons') or [])}" for r in esc_["reasons"])
        return (
            f"Escalation was called for ({where}), but no rung of stronger attacks could run: no input was "
            "left robust there, or the query budget was spent."
        )
    if (report.get("adaptive") or {}).get("randomized"):
        return (
            "No escalation ladder on a randomized model: the final EOT-PGD (two expected losses from random "
            "starts, without early stopping) ran on every input instead; see Adaptive attacks."
        )
    if flagged:
        names = ", ".join(f"'{c.get('name')}' ({c.get('status')})" for c in flagged)
        return (
            f"No escalation although the check(s) {names} flagged a problem: this preset has no escalation "
            "ladder (its fixed budget is the whole evaluation), so read the figures with the caution those "
            "checks state."
        )
    if not esc_.get("gain_threshold"):  # a preset without a ladder (quick, thorough) never escalates
        return (
            "No escalation: no check warned, and this preset has no escalation ladder (its fixed budget is the "
            "whole evaluation)."
        )
    return (
        "No escalation: no check warned, and at every eps the targeted attack's last target class broke, and "
        "the untargeted attack broke in the second half of its iterations, fewer than "
        f"{pct(esc_.get('gain_threshold'))} of the inputs: the standard budget stood."
    )


def queries_section(report: dict[str, Any]) -> str:
    """A query-only audit's spend: total and budget, the surrogate's fit, per attack and eps."""
    q = report.get("queries") or {}
    eps = report.get("eps") or []
    surrogate = q.get("surrogate") or {}
    facts = definitions(
        [
            ("queries spent", num(q.get("spent"))),
            ("budget (over the whole audit)", num(q.get("budget")) if q.get("budget") is not None else "none"),
            ("per input", num(q.get("per_input"))),
            ("clean answers and checks", num(q.get("answers"))),
            *(
                [("surrogate", f"{esc(surrogate.get('note'))}: {num(surrogate.get('queries'))} queries")]
                if surrogate
                else []
            ),
            *(
                [("budget spent", "yes: attacks it stopped or never ran leave robust accuracy overstated")]
                if q.get("exhausted")
                else []
            ),
        ]
    )
    rows = [
        [esc(name), num(a.get("total")), *(num(v) for v in a.get("per_eps") or [])]
        for name, a in (q.get("per_attack") or {}).items()
    ]
    return facts + table(["attack", "total", *(f"eps {num(e)}" for e in eps)], rows, numeric=range(1, 2 + len(eps)))
