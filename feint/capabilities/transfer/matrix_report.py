"""The cross-technique report: the ``feint.transfer-matrix/1`` schema and the
target-vulnerability figures (the page is :mod:`~feint.capabilities.transfer.matrix_page`).

Heat maps of misclassification rates (sources down, targets across) for the same-data and the
disjoint-halves matrices, each method's perturbation sizes (L0, L2, Linf) beside its white-box
success, the models' clean errors, and Papernot, McDaniel & Goodfellow (2016)'s MNIST pattern to
compare with: decision trees the most vulnerable targets, DNNs among the least, ensembles
vulnerable. Every string from the report is escaped.
"""

from __future__ import annotations

from typing import Any

from feint.report.schema import INT, NUM, NUM_OR_NULL, STR, obj, report_schema

SCHEMA = "feint.transfer-matrix/1"
_SUMMARY = obj({"median": NUM_OR_NULL, "mean": NUM_OR_NULL})
_MATRIX = obj(
    {
        "sources": {"type": "array", "items": STR},
        "targets": {"type": "array", "items": STR},
        "rates": {"type": "array", "items": {"type": "array", "items": NUM}},
    }
)
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "data": {
            "type": "object",
            "required": ["name", "class_names", "input_shape", "bounds", "n", "split", "halves"],
        },
        "settings": {
            "type": "object",
            "required": ["techniques", "eps", "norm", "seed", "dnn_arch", "substitute_arch"],
        },
        "models": {
            "type": "object",
            "additionalProperties": obj({"description": STR, "clean_error": {"type": "array", "items": NUM}}),
        },
        "crafting": {
            "type": "object",
            "additionalProperties": obj(
                {
                    "method": STR,
                    "over_budget": {"type": ["integer", "null"]},
                    "label_queries": {"type": ["integer", "null"]},
                    "changed": INT,
                    "l0": _SUMMARY,
                    "l2": _SUMMARY,
                    "linf": _SUMMARY,
                }
            ),
        },
        "same_data": _MATRIX,
        "disjoint_halves": _MATRIX,
        "notes": {"type": "array", "items": STR},
        "timings": obj({"total_seconds": NUM}),
    },
)
PAPERNOT_PATTERN = (
    "Papernot, McDaniel & Goodfellow (2016) report on MNIST: decision trees are the most vulnerable targets, "
    "DNNs among the least vulnerable, and ensembles vulnerable to examples crafted on their members."
)


def target_vulnerability(m: dict[str, Any]) -> dict[str, float]:
    """Per target, the mean misclassification rate over the sources other than itself."""
    names, rates = m["targets"], m["rates"]
    out = {}
    for j, t in enumerate(names):
        others = [rates[i][j] for i, s in enumerate(m["sources"]) if s != t]
        out[t] = sum(others) / len(others) if others else rates[j][j]
    return out


def summary(report: dict[str, Any]) -> str:
    """Both matrices as text tables (misclassification rates, sources down, targets across)."""
    lines = []
    for key, title in (
        ("same_data", "same training data (diagonal: white-box)"),
        ("disjoint_halves", "disjoint halves (diagonal: intra-technique)"),
    ):
        m = report[key]
        lines.append(f"{title}; rows: source, columns: target")
        lines.append(f"{'':>6}" + "".join(f"{t:>7}" for t in m["targets"]))
        lines += [
            f"{s:>6}" + "".join(f"{v:>7.1%}" for v in row) for s, row in zip(m["sources"], m["rates"], strict=True)
        ]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)
