"""The certification report (schema ``feint.certify/1``) and its terminal summary.

``report.json`` holds the settings (sigma, n0, n, alpha), the certified accuracy at the chosen L2
radii and as a curve over radii (Cohen, Rosenfeld & Kolter 2019, their figures), the abstain rate,
the clean accuracy of the base model and of the smoothed classifier, every input's answer, the time
per certified input and the sentence that says what a certificate promises (for the smoothed
classifier, with probability 1 - alpha; not for the base model). The page is
:mod:`feint.capabilities.certify.page`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from feint.capabilities.certify.measure import Certified
from feint.defenses.smoothing import ABSTAIN, max_radius
from feint.measure.certified import certified_accuracy, curve, guarantee
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.schema import INT, NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema

SCHEMA = "feint.certify/1"
_INTS = {"type": "array", "items": INT}
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": {"type": "object", "required": ["name", "parameters", "description"]},
        "data": {"type": "object", "required": ["name", "n", "split"]},
        "settings": obj(
            {
                "sigma": NUM,
                "n0": INT,
                "n": INT,
                "alpha": NUM,
                "radii": NUMS,
                "seed": INT,
                "batch_size": INT,
                "group_size": INT,
            }
        ),
        "accuracy": obj({"base": NUM, "smoothed": NUM, "certified_at_zero": NUM}),
        "abstain_rate": NUM,
        "certified": obj({"radius": NUMS, "accuracy": NUMS}),
        "curve": obj({"radius": NUMS, "accuracy": NUMS}),
        "max_radius": NUM,
        "per_input": obj(
            {
                "label": _INTS,
                "prediction": _INTS,
                "radius": {"type": "array", "items": NUM_OR_NULL},
                "p_lower": NUMS,
                "vote": _INTS,
            }
        ),
        "guarantee": STR,
        "timings": obj(
            {
                "total_seconds": NUM,
                "seconds_per_input": NUM,
                "forward_rows_per_input": INT,
                "resumed_groups": INT,
                "forward": STR,
            }
        ),
    },
)


def _mean(flags: Tensor) -> float:
    return float(flags.float().mean()) if flags.numel() else 0.0


def build_certify_report(
    certified: Certified, y: Tensor, *, settings: dict[str, Any], model: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """The ``feint.certify/1`` dict from the per-input answers (``settings``: sigma, n0, n, alpha, radii, ...)."""
    sigma, n, alpha, radii = settings["sigma"], settings["n"], settings["alpha"], settings["radii"]
    top = max_radius(sigma, n, alpha)
    count = max(int(y.shape[0]), 1)
    report = {
        **stamp(SCHEMA),
        "model": model,
        "data": data,
        "settings": settings,
        "accuracy": {
            "base": _mean(certified.base_correct),
            "smoothed": _mean(certified.vote == y),
            "certified_at_zero": _mean((certified.prediction == y) & ~torch.isnan(certified.radius)),
        },
        "abstain_rate": _mean(certified.prediction == ABSTAIN),
        "certified": {
            "radius": list(radii),
            "accuracy": certified_accuracy(certified.prediction, certified.radius, y, radii),
        },
        "curve": curve(certified.prediction, certified.radius, y, 1.05 * max(top, *radii)),
        "max_radius": top,
        "per_input": {
            "label": y.tolist(),
            "prediction": certified.prediction.tolist(),
            "radius": certified.radius.tolist(),
            "p_lower": certified.p_lower.tolist(),
            "vote": certified.vote.tolist(),
        },
        "guarantee": guarantee(alpha, sigma),
        "timings": {
            "total_seconds": certified.seconds,
            "seconds_per_input": certified.seconds / count,
            "forward_rows_per_input": settings["n0"] + n + 1,
            "resumed_groups": certified.resumed,
            "forward": certified.forward,
        },
    }
    return json_safe(report)


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: clean accuracies, abstain rate, certified accuracy per radius, time, the guarantee."""
    s, acc = report["settings"], report["accuracy"]
    lines = [
        f"inputs: {report['data']['n']}  sigma: {s['sigma']:g}  n0: {s['n0']}  n: {s['n']}  alpha: {s['alpha']:g}",
        f"clean accuracy: base model {acc['base']:.4f}, smoothed classifier {acc['smoothed']:.4f}; "
        f"abstained on {report['abstain_rate']:.4f}",
        f"{'L2 radius':>10}  certified accuracy",
    ]
    table = report["certified"]
    lines += [f"{r:>10.4g}  {a:.4f}" for r, a in zip(table["radius"], table["accuracy"], strict=True)]
    t = report["timings"]
    lines.append(
        f"{t['seconds_per_input']:.4g} s per certified input ({t['forward_rows_per_input']:,} forward rows each); "
        f"largest radius these settings can certify: {report['max_radius']:.4g}"
    )
    lines.append(report["guarantee"])
    return "\n".join(lines)
