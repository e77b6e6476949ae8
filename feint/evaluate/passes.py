"""The audit's pass accounting: forward and backward rows per attack, per eps, in total and per input.

A row is one input through the model once (forward) or one input's gradient back through it
(backward); they are counted where the model is called (:class:`feint.attacks.core.QueryCounter`),
each random draw of an EOT average counted, and recorded per audit unit. An attack through an
oracle spends forward rows only (its queries). The adaptive probes and redraws of
:mod:`feint.evaluate.adaptive` are counted beside the attacks (the ``adaptive`` record).
"""

from __future__ import annotations

from typing import Any

from feint.evaluate.runner import AuditSetup
from feint.evaluate.state import AuditState

ADAPTIVE_RECORD = "adaptive"


def _rows(record: dict[str, Any]) -> tuple[int, int]:
    return int(record.get("forward_rows", 0)), int(record.get("backward_rows", 0))


def passes_summary(setup: AuditSetup, state: AuditState) -> dict[str, Any]:
    """The report's ``passes`` section: per attack (per eps, its once-only minimum-norm run, total),
    per eps over the attacks, the adaptive probes and redraws, the total, and the total per input."""
    eps = list(setup.eps)
    per_attack: dict[str, Any] = {}
    per_eps = {"forward": [0] * len(eps), "backward": [0] * len(eps)}
    total = [0, 0]
    for plan in setup.plans:
        forward, backward, once = [0] * len(eps), [0] * len(eps), [0, 0]
        for e in range(len(eps)):
            f, b = _rows(state.records.get(f"{plan.key}@{e}", {}))
            forward[e], backward[e] = f, b
            per_eps["forward"][e] += f
            per_eps["backward"][e] += b
        if plan.minimum_norm:
            once = list(_rows(state.records.get(plan.key, {})))
        f_all, b_all = sum(forward) + once[0], sum(backward) + once[1]
        total[0] += f_all
        total[1] += b_all
        per_attack[plan.key] = {
            "forward": forward,
            "backward": backward,
            "once": {"forward": once[0], "backward": once[1]},
            "total": {"forward": f_all, "backward": b_all},
        }
    adaptive = _rows(state.records.get(ADAPTIVE_RECORD, {}).get("passes", {}))
    total[0] += adaptive[0]
    total[1] += adaptive[1]
    n = max(int(setup.x.shape[0]), 1)
    return {
        "per_attack": per_attack,
        "per_eps": per_eps,
        "adaptive": {"forward": adaptive[0], "backward": adaptive[1]},
        "total": {"forward": total[0], "backward": total[1]},
        "per_input": {"forward": total[0] / n, "backward": total[1] / n},
    }


def passes_lines(passes: dict[str, Any]) -> list[str]:
    """The terminal summary's lines: the total and per input, then each attack's total."""
    if not passes:
        return []
    t, p = passes["total"], passes["per_input"]
    lines = [
        f"passes: {t['forward']} forward + {t['backward']} backward rows "
        f"({p['forward']:.1f} + {p['backward']:.1f} per input)"
    ]
    for name, a in passes["per_attack"].items():
        lines.append(f"  {name}: {a['total']['forward']} forward + {a['total']['backward']} backward rows")
    if passes["adaptive"]["forward"] or passes["adaptive"]["backward"]:
        a = passes["adaptive"]
        lines.append(f"  adaptive probes and redraws: {a['forward']} forward + {a['backward']} backward rows")
    return lines
