"""The pairwise transfer report: the ``feint.transfer/1`` schema (the page is :mod:`~feint.capabilities.transfer.pair_page`).

The headline figure is the tutorial's: accuracy against eps, white-box (on the source) beside
black-box (on the target), one line per step count T, random sign noise of the same size dashed
(Kurakin, Goodfellow & Bengio 2017, "Adversarial Machine Learning at Scale": one step transfers
better than many). Every string from the report is escaped.
"""

from __future__ import annotations

from typing import Any

from feint.report.schema import INT, NUM, NUMS, STR, obj, report_schema

SCHEMA = "feint.transfer/1"
_NUMS_OR_NULL: dict[str, Any] = {"type": ["array", "null"], "items": NUM}
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "source": obj({"name": STR, "parameters": INT, "description": STR}),
        "target": obj({"name": STR, "access": STR}),
        "data": {"type": "object", "required": ["name", "class_names", "input_shape", "bounds", "n", "split"]},
        "settings": obj(
            {
                "attack": STR,
                "steps": {"type": "array", "items": INT},
                "eps": NUMS,
                "targeted": {"type": "boolean"},
                "params": {"type": "object"},
                "seed": INT,
            }
        ),
        "clean": obj({"source_accuracy": NUM, "target_accuracy": NUM}),
        "eps": NUMS,
        "curves": {
            "type": "array",
            "items": obj(
                {
                    "steps": INT,
                    "source_accuracy": NUMS,
                    "target_accuracy": NUMS,
                    "source_target_success": _NUMS_OR_NULL,
                    "target_target_success": _NUMS_OR_NULL,
                }
            ),
        },
        "noise": obj({"source_accuracy": NUMS, "target_accuracy": NUMS}),
        "queries": obj({"target": INT}),
        "timings": obj({"total_seconds": NUM}),
    },
)
NOISE = "random sign noise"


def summary(report: dict[str, Any]) -> str:
    """Target (black-box) and source (white-box) accuracy per T and eps, and the noise baseline."""
    c = report["clean"]
    lines = [f"clean accuracy: source {c['source_accuracy']:.4f}, target {c['target_accuracy']:.4f}"]
    targeted = report["settings"]["targeted"]
    head = f"{'T':>4}  {'eps':>7}  target acc  source acc" + ("  target hit  source hit" if targeted else "")
    lines.append(head)
    for curve in report["curves"]:
        for i, e in enumerate(report["eps"]):
            line = f"{curve['steps']:>4}  {e:>7.4g}  {curve['target_accuracy'][i]:>10.4f}  {curve['source_accuracy'][i]:>10.4f}"
            if targeted:
                line += f"  {curve['target_target_success'][i]:>10.4f}  {curve['source_target_success'][i]:>10.4f}"
            lines.append(line)
    noise = report["noise"]["target_accuracy"]
    lines += [f"noise {e:>7.4g}  {a:>10.4f}" for e, a in zip(report["eps"], noise, strict=True)]
    return "\n".join(lines)
