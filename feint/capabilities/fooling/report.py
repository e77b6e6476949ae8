"""The report of a fooling-image search (schema ``feint.fool/1``): the dict and the terminal summary.

``report.json`` holds, per class, the confidence of the model in its best unrecognisable image
(Nguyen, Yosinski & Clune 2015) and how it grew; ``fooling.npz`` the images and, for the CPPN
method, ``cppn_genomes.json`` their genomes. The page is :mod:`feint.capabilities.fooling.page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feint.attacks.fooling.result import FoolingResult
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.schema import INT, NUM, NUMS, STR, obj, report_schema

SCHEMA = "feint.fool/1"
FILES = {"images": "fooling.npz", "genomes": "cppn_genomes.json"}
THRESHOLD = 0.99
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": {"type": "object", "required": ["name", "access"]},
        "method": {"enum": ["direct", "cppn", "gradient"]},
        "settings": {"type": "object"},
        "class_names": {"type": "array", "items": STR},
        "classes": {
            "type": "array",
            "items": obj(
                {"class": STR, "target": INT, "confidence": NUM, "prediction": STR, "fooled": {"type": "boolean"}}
            ),
        },
        "summary": obj(
            {"classes": INT, "fooled": INT, "threshold": NUM, "median_confidence": NUM, "min_confidence": NUM}
        ),
        "history": obj(
            {"generation": NUMS, "median": NUMS, "min": NUMS, "per_class": {"type": "array", "items": NUMS}}
        ),
        "queries": INT,
        "seconds": NUM,
        "stopped": {"type": ["string", "null"]},
        "files": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
    },
)


def build_fooling_report(
    result: FoolingResult,
    *,
    class_names: Sequence[str],
    model: dict[str, Any],
    settings: dict[str, Any],
    files: dict[str, str | None],
) -> dict[str, Any]:
    """The ``feint.fool/1`` dict of ``result``; ``model`` names the model and its access."""
    names = [str(c) for c in class_names]
    conf = result.confidence.float()
    history = result.history.float().cpu()
    classes = [
        {
            "class": names[int(t)],
            "target": int(t),
            "confidence": float(c),
            "prediction": names[int(p)],
            "fooled": bool(c >= THRESHOLD),
        }
        for t, c, p in zip(result.target.tolist(), conf.tolist(), result.prediction.tolist(), strict=True)
    ]
    report = {
        **stamp(SCHEMA),
        "model": model,
        "method": result.method,
        "settings": settings,
        "class_names": names,
        "classes": classes,
        "summary": {
            "classes": len(classes),
            "fooled": sum(bool(c["fooled"]) for c in classes),
            "threshold": THRESHOLD,
            "median_confidence": float(conf.median()),
            "min_confidence": float(conf.min()),
        },
        "history": {
            "generation": list(range(history.shape[0])),
            "median": history.median(1).values.tolist(),
            "min": history.min(1).values.tolist(),
            "per_class": history.T.tolist(),
        },
        "queries": int(result.queries),
        "seconds": float(result.seconds),
        "stopped": result.stopped,
        "files": files,
    }
    return json_safe(report)


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: classes fooled, confidences, the model, queries and time."""
    s, model = report["summary"], report["model"]
    lines = [
        f"method: {report['method']}  classes fooled at >= {s['threshold']:.0%}: {s['fooled']}/{s['classes']}",
        f"median confidence: {s['median_confidence']:.4f}  lowest: {s['min_confidence']:.4f}",
        f"model: {model['name']}, {model.get('loaded_as') or model['access'] + ' access'}",
        f"queries: {report['queries']}  time: {report['seconds']:.1f} s",
    ]
    if report.get("stopped"):
        lines.append(f"stopped early: {report['stopped']}")
    return "\n".join(lines)
