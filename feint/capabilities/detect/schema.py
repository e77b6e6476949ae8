"""The ``feint.detect/1`` report schema (validated with :func:`feint.report.schema.validate`)."""

from __future__ import annotations

from typing import Any

from feint.report.schema import NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema

SCHEMA = "feint.detect/1"
INT = {"type": "integer"}
_GROUP = {
    "n": INT,
    "flagged": NUM_OR_NULL,
    "score_mean": NUM_OR_NULL,
    "seconds_per_decision": NUM_OR_NULL,
    "mutants_per_decision": NUM_OR_NULL,
    "undecided": INT,
}
_ROC = {"roc_auc": NUM_OR_NULL, "tpr_at_5_fpr": NUM_OR_NULL, "curve": obj({"fpr": NUMS, "tpr": NUMS})}
_ATTACK = obj(
    {**_GROUP, **_ROC, "attacked": INT, "success_rate": NUM_OR_NULL, "attack_seconds": NUM, "evaded": NUM},
    extra={"type": "array", "items": NUM},  # mutants_histogram
)
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": obj({"name": STR, "parameters": INT, "description": STR}),
        "data": {"type": "object", "required": ["name", "n", "split"]},
        "detector": {"type": "object", "required": ["kind", "settings", "threshold"]},
        "settings": obj(
            {
                "attacks": {"type": "array", "items": STR},
                "eps": NUM,
                "adaptive": {"type": "boolean"},
                "kappa": NUM,
                "adaptive_steps": INT,
                "adaptive_weight": NUM,
                "seed": INT,
                "params": {"type": "object"},
                "batch_size": INT,
            }
        ),
        "clean": obj({**_GROUP, "accuracy": NUM_OR_NULL, "total": INT}, extra={"type": "array", "items": NUM}),
        "natural_misclassified": obj({**_GROUP, **_ROC}),
        "attacks": {"type": "object", "additionalProperties": _ATTACK},
        "sprt": {
            "type": ["object", "null"],
            "properties": {"decisions": INT, "accuracy": NUM, "mutants_per_decision": NUM, "undecided": INT},
        },
        "adaptive": {
            "type": "array",
            "items": obj(
                {
                    "name": STR,
                    "counterpart": STR,
                    "description": STR,
                    "plain": _ATTACK,
                    "adaptive": _ATTACK,
                    "drop": obj({"roc_auc": NUM_OR_NULL, "tpr_at_5_fpr": NUM_OR_NULL, "flagged": NUM_OR_NULL}),
                }
            ),
        },
        "summary": {"type": "object", "required": ["status", "headline"]},
        "timings": obj({"total_seconds": NUM}),
    },
)
