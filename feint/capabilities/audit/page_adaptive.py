"""The audit report's adaptive-attack and pass-accounting sections as HTML fragments (schema ``feint.audit/2``)."""

from __future__ import annotations

from typing import Any

from feint.report.html import check_list, definitions, esc, num, pct, table


def _gradient(gradient: dict[str, Any] | None) -> str:
    if not gradient:
        return ""
    facts = definitions(
        [
            ("probe inputs", num(gradient.get("probe_inputs"))),
            ("dead input gradients", num(gradient.get("dead_inputs"))),
            ("after the bypass", num(gradient.get("dead_after_bypass"))),
            ("output connected to the input in autograd", esc("yes" if gradient.get("connected") else "no")),
        ]
    )
    bypassed = gradient.get("bypassed") or []
    rows = [[esc(b.get("module")), esc(b.get("why")), esc(b.get("how"))] for b in bypassed]
    return facts + (table(["submodule bypassed (BPDA)", "why", "backward pass replaced by"], rows) if rows else "")


def _randomized(randomized: dict[str, Any] | None, eps: list[Any]) -> str:
    if not randomized:
        return ""
    facts = definitions(
        [
            ("EOT draws per gradient (k)", num(randomized.get("eot_samples"))),
            ("redraws per final point (r)", num(randomized.get("redraws"))),
            ("seed", num(randomized.get("seed"))),
            ("why", esc(randomized.get("reason"))),
            *(
                [("final EOT-PGD (every input)", f"{num(d.get('steps'))} steps x {num(d.get('draws'))} draws on the expected {esc(' and '.join(d.get('losses', [])))}, from random starts: {num(d.get('forward_rows'))} forward + {num(d.get('backward_rows'))} backward rows")]
                if (d := randomized.get("deepening"))
                else []
            ),
        ]
    )  # fmt: skip
    if "accuracy_mean" not in randomized:
        return facts
    keys = ("mean", "strict", "std", "min", "max")
    rows = [
        [num(e), *(pct(randomized.get(f"accuracy_{k}", [None] * (i + 1))[i]) for k in keys)] for i, e in enumerate(eps)
    ]
    headers = ["eps", "mean over redraws", "correct in every draw", "std over redraws", "min", "max"]
    return facts + table(headers, rows, numeric=range(6))


def adaptive_section(report: dict[str, Any]) -> str:
    """Which check fired before the attacks, what was bypassed and how, k and r, the redraw figures,
    and what each attack through the adapted model broke and cost."""
    a = report.get("adaptive") or {}
    if not a.get("enabled"):
        return '<p class="muted">The adaptive probes were turned off for this audit.</p>'
    checks = a.get("checks") or []
    if not checks:
        return '<p class="muted">The gradient and determinism probes found nothing to adapt to: the attacks ran on the model as it is.</p>'
    notes = "".join(f"<p><b>{esc(n)}</b></p>" for n in a.get("notes") or [])
    rungs = table(
        ["attack", "through", "inputs it broke first, per eps", "forward rows", "backward rows"],
        [
            [
                esc(r.get("attack")),
                esc(r.get("through")),
                esc(", ".join(str(b) for b in r.get("broke") or [])),
                num(r.get("forward_rows")),
                num(r.get("backward_rows")),
            ]
            for r in a.get("rungs") or []
        ],
        numeric=(3, 4),
    )
    return (
        check_list(checks)
        + notes
        + _gradient(a.get("gradient"))
        + _randomized(a.get("randomized"), list(report.get("eps") or []))
        + (
            "<h3>Attacks through the adapted model, and the searches on its own forward</h3>" + rungs
            if a.get("rungs")
            else ""
        )
    )


def passes_section(report: dict[str, Any]) -> str:
    """Forward and backward rows per attack, per eps, in total and per input."""
    p = report.get("passes") or {}
    total, per_input, other = p.get("total") or {}, p.get("per_input") or {}, p.get("other") or {}
    facts = definitions(
        [
            ("total", f"{num(total.get('forward'))} forward + {num(total.get('backward'))} backward rows"),
            ("per input", f"{num(per_input.get('forward'))} forward + {num(per_input.get('backward'))} backward rows"),
            ("clean pass, probes, checks and redraws", f"{num(other.get('forward'))} forward + {num(other.get('backward'))} backward rows"),
        ]
    )  # fmt: skip
    eps = list(report.get("eps") or [])
    attacks = p.get("per_attack") or {}
    headers = ["attack", *(f"eps {num(e)}" for e in eps), "once (unbounded)", "total"]
    rows = [
        [
            esc(name),
            *(f"{num(f)} / {num(b)}" for f, b in zip(a.get("forward") or [], a.get("backward") or [], strict=False)),
            f"{num((a.get('once') or {}).get('forward'))} / {num((a.get('once') or {}).get('backward'))}",
            f"{num((a.get('total') or {}).get('forward'))} / {num((a.get('total') or {}).get('backward'))}",
        ]
        for name, a in attacks.items()
    ]
    return facts + "<p>Forward / backward rows:</p>" + table(headers, rows, numeric=range(1, len(headers)))
