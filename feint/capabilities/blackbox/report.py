"""The substitute attack's report: the ``feint.blackbox/1`` schema (the page is :mod:`~feint.capabilities.blackbox.page`).

Sections: the verdict, the substitute's training per round (agreement with the oracle and the
queries spent; Papernot et al. 2017, "Practical Black-Box Attacks against Machine Learning",
Table 2 and Figure 4 report the same figures), the target's error against eps beside random
noise of the same size, a gallery of transferred examples with the oracle's labels, notes, the
settings and the provenance. Every string from the report is escaped.
"""

from __future__ import annotations

from typing import Any

from feint.report.schema import INT, NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema

SCHEMA = "feint.blackbox/1"
_INT_OR_NULL: dict[str, Any] = {"type": ["integer", "null"]}
_ROUND = obj(
    {
        "round": INT,
        "set_size": INT,
        "new_points": INT,
        "queries": INT,
        "step": NUM,
        "agreement": NUM_OR_NULL,
        "accuracy": NUM_OR_NULL,
    }
)
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "target": obj({"name": STR, "access": STR, "clean_accuracy": NUM}),
        "substitute": obj(
            {"name": STR, "parameters": INT, "description": STR, "run_dir": {"type": ["string", "null"]}}
        ),
        "data": {
            "type": "object",
            "required": ["name", "class_names", "input_shape", "bounds", "n_seed", "n", "split"],
        },
        "settings": {
            "type": "object",
            "required": ["arch", "rounds", "lam", "tau", "sigma", "kappa", "epochs", "max_queries", "attack", "eps"],
        },
        "rounds": {"type": "array", "items": _ROUND},
        "queries": obj({"training": INT, "budget": _INT_OR_NULL, "measurement": INT, "oracle_counted": INT}),
        "eps": NUMS,
        "transfer": obj(
            {
                "error_rate": NUMS,
                "flip_rate": {"type": "array", "items": NUM_OR_NULL},
                "substitute_success": NUMS,
                "noise_error_rate": NUMS,
            }
        ),
        "notes": {"type": "array", "items": STR},
        "timings": obj({"total_seconds": NUM}),
    },
)


def summary(report: dict[str, Any]) -> str:
    """A few lines for a terminal: agreement per round, then the target's error per eps beside noise."""
    lines = [f"{'round':>5}  {'points':>7}  {'queries':>7}  agreement"]
    lines += [f"{r['round']:>5}  {r['set_size']:>7}  {r['queries']:>7}  {r['agreement']:.4f}" for r in report["rounds"]]
    lines.append(f"target clean accuracy: {report['target']['clean_accuracy']:.4f}")
    lines.append(f"{'eps':>8}  target error  noise error  substitute (white-box)")
    t = report["transfer"]
    for i, e in enumerate(report["eps"]):
        lines.append(
            f"{e:>8.4g}  {t['error_rate'][i]:>12.4f}  {t['noise_error_rate'][i]:>11.4f}  {t['substitute_success'][i]:>22.4f}"
        )
    q = report["queries"]
    lines.append(
        f"queries: {q['training']} to train the substitute (budget {q['budget']}), {q['measurement']} to measure"
    )
    return "\n".join(lines)
