"""The ``feint.audit/1`` report schema as a JSON-Schema-style dict, and a small validator.

The validator understands the subset the schema uses: ``type`` (a name or a list of names),
``properties``, ``required``, ``additionalProperties`` (False or a schema), ``items``, ``enum``
and ``const``. It returns a list of problems, each with its JSON path; empty means valid.
"""

from __future__ import annotations

from typing import Any

NUM: dict[str, Any] = {"type": "number"}
NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
NUMS: dict[str, Any] = {"type": "array", "items": NUM}
STR: dict[str, Any] = {"type": "string"}
INTS: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}


def _obj(props: dict[str, Any], *, extra: bool | dict[str, Any] = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": extra}


_SUMMARY = _obj({"median": NUM_OR_NULL, "mean": NUM_OR_NULL})
REPORT_SCHEMA: dict[str, Any] = _obj(
    {
        "schema": {"const": "feint.audit/1"},
        "feint_version": STR,
        "created": STR,
        "git_revision": {"type": ["string", "null"]},
        "model": _obj({"name": STR, "parameters": {"type": "integer"}, "description": STR}),
        "data": {
            "type": "object",
            "required": ["name", "class_names", "input_shape", "bounds", "n", "split"],
            "properties": {"n": {"type": "integer"}, "split": {"type": ["string", "null"]}},
        },
        "settings": _obj(
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
            "additionalProperties": _obj(
                {
                    "kind": {"enum": ["white-box", "black-box", "minimum-norm"]},
                    "accuracy": NUMS,
                    "queries": {"type": "integer"},
                    "seconds": NUM,
                }
            ),
        },
        "baselines": _obj({"noise": _obj({"accuracy": NUMS})}),
        "worst_case": _obj(
            {"accuracy": NUMS, "attack_breaking": {"type": "object", "additionalProperties": {"type": "integer"}}}
        ),
        "goodfellow": {
            "type": "array",
            "items": _obj({"eps": NUM, "attack": STR, "error_rate": NUM, "mean_confidence_misclassified": NUM}),
        },
        "per_class": _obj(
            {
                "class_names": {"type": "array", "items": STR},
                "clean": {"type": "array", "items": NUM_OR_NULL},
                "robust": {"type": "array", "items": {"type": "array", "items": NUM_OR_NULL}},
            }
        ),
        "perturbation_sizes": {
            "type": "array",
            "items": _obj({"eps": NUM, "l0": _SUMMARY, "l2": _SUMMARY, "linf": _SUMMARY}),
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
            "items": _obj(
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
            "items": _obj({"name": STR, "status": {"enum": ["pass", "warn", "fail"]}, "detail": STR}),
        },
        "escalation": _obj(
            {
                "escalated": {"type": "boolean"},
                "gain_threshold": NUM,
                "reasons": {"type": "array", "items": _obj({"eps": NUM, "reasons": {"type": "array", "items": STR}})},
                "rungs": {
                    "type": "array",
                    "items": _obj(
                        {"attack": STR, "params": {"type": "object"}, "eps": NUMS, "broke": INTS, "seconds": NUM}
                    ),
                },
            }
        ),
        "timings": _obj(
            {"total_seconds": NUM, "per_attack": {"type": "object", "additionalProperties": NUM}},
        ),
    }
)

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict[str, Any] = REPORT_SCHEMA, path: str = "$") -> list[str]:
    """Problems of ``value`` against ``schema``, e.g. ``["$.eps[2]: expected number, got str"]``."""
    if "const" in schema and value != schema["const"]:
        return [f"{path}: expected {schema['const']!r}, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, t) for t in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing key {k!r}" for k in schema.get("required", []) if k not in value]
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                errors += validate(v, props[k], f"{path}.{k}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {k!r}")
            elif isinstance(extra, dict):
                errors += validate(v, extra, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += validate(v, schema["items"], f"{path}[{i}]")
    return errors
