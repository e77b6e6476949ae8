"""The ``feint.audit/2`` report schema (validated with :func:`feint.report.schema.validate`).

Version 2 adds ``passes`` (forward and backward rows per attack, per eps, in total and per input)
and ``adaptive`` (what the audit's probes found and how it attacked through it: BPDA, EOT, redraws).
"""

from __future__ import annotations

from typing import Any

from feint.capabilities.audit.interval import INTERVAL_SCHEMA
from feint.capabilities.audit.presets import TRIGGERS
from feint.capabilities.audit.queries import QUERIES_SCHEMA
from feint.measure.natural import NATURAL_SCHEMA
from feint.measure.patch_threat import THREAT_SCHEMA
from feint.report.schema import NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema

INTS: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}

__all__ = ["REPORT_SCHEMA", "SCHEMA"]

SCHEMA = "feint.audit/2"
# The versions the HTML renderer still reads (a version 1 report has no passes or adaptive section).
READABLE = ("feint.audit/1", SCHEMA)
_SUMMARY = obj({"median": NUM_OR_NULL, "mean": NUM_OR_NULL})
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": obj({"name": STR, "parameters": {"type": ["integer", "null"]}, "description": STR}),
        "access": obj(
            {
                "level": {"enum": ["white-box", "scores", "labels"]},
                "note": STR,
                "white_box_attacks": {"type": "boolean"},
            }
        ),
        "data": {
            "type": "object",
            "required": ["name", "class_names", "input_shape", "bounds", "n", "split"],
            "properties": {"n": {"type": "integer"}, "split": {"type": ["string", "null"]}},
        },
        "settings": obj(
            {
                "preset": STR,
                "norm": {"enum": ["inf", "2"]},
                "eps": NUMS,
                "seed": {"type": "integer"},
                "attacks": {"type": "object", "additionalProperties": {"type": "object"}},
            }
        ),
        "clean_accuracy": NUM,
        "eps": NUMS,
        "attacks": {
            "type": "object",
            "additionalProperties": obj(
                {
                    "kind": {"enum": ["white-box", "black-box", "minimum-norm"]},
                    "accuracy": NUMS,
                    "queries": {"type": "integer"},
                    "seconds": NUM,
                }
            ),
        },
        "baselines": obj({"noise": obj({"accuracy": NUMS})}),
        "worst_case": obj(
            {"accuracy": NUMS, "attack_breaking": {"type": "object", "additionalProperties": {"type": "integer"}}}
        ),
        "goodfellow": {
            "type": "array",
            "items": obj({"eps": NUM, "attack": STR, "error_rate": NUM, "mean_confidence_misclassified": NUM_OR_NULL}),
        },
        "per_class": obj(
            {
                "class_names": {"type": "array", "items": STR},
                "clean": {"type": "array", "items": NUM_OR_NULL},
                "robust": {"type": "array", "items": {"type": "array", "items": NUM_OR_NULL}},
            }
        ),
        "perturbation_sizes": {
            "type": "array",
            "items": obj({"eps": NUM, "l0": _SUMMARY, "l2": _SUMMARY, "linf": _SUMMARY}),
        },
        "min_norm": {
            "type": ["object", "null"],
            "required": ["attack", "norm", "median", "distances_quantiles"],
            "properties": {
                "attack": STR,
                "norm": STR,
                "median": NUM_OR_NULL,
                "distances_quantiles": {"type": "object", "additionalProperties": NUM_OR_NULL},
            },
            "additionalProperties": False,
        },
        "outcomes": {
            "type": "array",
            "items": obj(
                {
                    "eps": NUM,
                    "benign": {"type": "integer"},
                    "refocused": {"type": "integer"},
                    "conatural": {"type": "integer"},
                    "true_adversarial": {"type": "integer"},
                }
            ),
        },
        "checks": {
            "type": "array",
            "items": obj({"name": STR, "status": {"enum": ["pass", "warn", "fail"]}, "detail": STR}),
        },
        "escalation": obj(
            {
                "escalated": {"type": "boolean"},
                "gain_threshold": NUM,
                "reasons": {
                    "type": "array",
                    "items": obj(
                        {
                            "eps": NUM,
                            "triggers": {"type": "array", "items": {"enum": list(TRIGGERS)}},
                            "reasons": {"type": "array", "items": STR},
                        }
                    ),
                },
                "rungs": {
                    "type": "array",
                    "items": obj(
                        {"attack": STR, "params": {"type": "object"}, "eps": NUMS, "broke": INTS, "seconds": NUM}
                    ),
                },
            }
        ),
        "timings": obj(
            {"total_seconds": NUM, "per_attack": {"type": "object", "additionalProperties": NUM}},
        ),
    },
)
_ROWS = obj({"forward": {"type": "integer"}, "backward": {"type": "integer"}})
_CHECK = obj({"name": STR, "status": {"enum": ["pass", "warn", "fail"]}, "detail": STR})
REPORT_SCHEMA["properties"]["passes"] = obj(
    {
        "per_attack": {
            "type": "object",
            "additionalProperties": obj({"forward": INTS, "backward": INTS, "once": _ROWS, "total": _ROWS}),
        },
        "per_eps": obj({"forward": INTS, "backward": INTS}),
        "other": _ROWS,
        "total": _ROWS,
        "per_input": obj({"forward": NUM, "backward": NUM}),
    }
)
REPORT_SCHEMA["properties"]["adaptive"] = obj(
    {
        "enabled": {"type": "boolean"},
        "checks": {"type": "array", "items": _CHECK},
        "gradient": {
            "type": ["object", "null"],
            "required": ["probe_inputs", "dead_inputs", "connected", "bypassed", "dead_after_bypass"],
            "properties": {
                "probe_inputs": {"type": "integer"},
                "dead_inputs": {"type": "integer"},
                "connected": {"type": "boolean"},
                "dead_after_bypass": {"type": "integer"},
                "bypassed": {"type": "array", "items": obj({"module": STR, "why": STR, "how": STR})},
            },
        },
        "randomized": {
            "type": ["object", "null"],
            "required": ["eot_samples", "redraws", "reason", "seed"],
            "properties": {
                "eot_samples": {"type": "integer"},
                "redraws": {"type": "integer"},
                "reason": STR,
                "seed": {"type": "integer"},
                **{f"accuracy_{k}": NUMS for k in ("mean", "strict", "std", "min", "max")},
                "per_redraw": {"type": "array", "items": NUMS},
                "deepening": obj(
                    {
                        "steps": {"type": "integer"},
                        "draws": {"type": "integer"},
                        "losses": {"type": "array", "items": {"type": "string"}},
                        "forward_rows": {"type": "integer"},
                        "backward_rows": {"type": "integer"},
                    }
                ),
            },
        },
        "notes": {"type": "array", "items": STR},
        "rungs": {
            "type": "array",
            "items": obj(
                {
                    "attack": STR,
                    "through": STR,
                    "broke": INTS,
                    "forward_rows": {"type": "integer"},
                    "backward_rows": {"type": "integer"},
                }
            ),
        },
    }
)
REPORT_SCHEMA["required"] += ["passes", "adaptive"]
# Optional: present when the audit ran with natural=True (feint audit --natural).
REPORT_SCHEMA["properties"]["natural"] = NATURAL_SCHEMA
# Optional: present when the audit ran with a patch threat (feint audit --threat patch:AREA).
REPORT_SCHEMA["properties"]["patch"] = THREAT_SCHEMA
# Present when the model was query-only: the queries the audit spent (feint.capabilities.audit.queries).
REPORT_SCHEMA["properties"]["queries"] = QUERIES_SCHEMA
# Present when a smoothed model had an L2 audit: the certified lower bound beside the attacks' upper bound.
REPORT_SCHEMA["properties"]["interval"] = INTERVAL_SCHEMA
