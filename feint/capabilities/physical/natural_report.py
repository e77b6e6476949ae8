"""The natural-variation report (schema ``feint.natural/1``): the dict and the terminal summary.

``report["natural"]`` is :func:`feint.measure.natural.natural_variation`'s section, the same one
``feint audit --natural`` adds to an audit: accuracy against the severity of rotation,
translation, scaling, cropping, blur, brightness and JPEG, and the worst case over a grid of
rotations and translations (Engstrom, Tran, Tsipras, Schmidt & Madry 2019). The page is
:mod:`feint.capabilities.physical.natural_page`.
"""

from __future__ import annotations

from typing import Any

from feint.measure.natural import NATURAL_SCHEMA
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.schema import STR, report_schema

SCHEMA = "feint.natural/1"
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": {"type": "object", "required": ["name", "access"], "properties": {"access": STR}},
        "data": {"type": "object", "required": ["name", "n", "split"]},
        "natural": NATURAL_SCHEMA,
    },
)


def build_natural_report(natural: dict[str, Any], *, model: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The ``feint.natural/1`` dict: the model (with its ``access``), the data (with ``n`` and
    ``split``) and the measured section."""
    return json_safe({**stamp(SCHEMA), "model": model, "data": data, "natural": natural})


def worst_of(family: dict[str, Any]) -> tuple[float, float]:
    """The value of ``family`` at which accuracy is lowest, and that accuracy."""
    value, accuracy = min(zip(family["values"], family["accuracy"], strict=True), key=lambda pair: pair[1])
    return float(value), float(accuracy)


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: inputs and clean accuracy, the lowest accuracy of each family (and where),
    the worst case and the mean over the rotation x translation grid."""
    natural, data = report["natural"], report["data"]
    lines = [f"inputs: {data['n']}  clean accuracy: {natural['clean_accuracy']:.4f}"]
    lines.append(f"{'transformation':>42}  lowest accuracy (at)")
    for family in natural["families"]:
        if family["values"]:
            value, accuracy = worst_of(family)
            lines.append(f"{family['name']:>42}  {accuracy:.4f} ({value:g})")
    grid = natural["grid"]
    shape = f"{len(grid['rotations'])} x {len(grid['translations'])} x {len(grid['translations'])}"
    lines.append(
        f"rotation x translation grid ({shape}): worst case {grid['worst_case_accuracy']:.4f}, "
        f"mean {grid['mean_accuracy']:.4f}"
    )
    return "\n".join(lines)
