"""JSON-Schema-style dicts for every report's ``report.json``, and a small validator.

Each report names its schema and version in its ``schema`` key (``feint.audit/1``,
``feint.transfer/1``, ...). The validator understands the subset the schemas use: ``type`` (a
name or a list of names), ``properties``, ``required``, ``additionalProperties`` (False or a
schema), ``items``, ``enum`` and ``const``. It returns a list of problems, each with its JSON
path; empty means valid.
"""

from __future__ import annotations

from typing import Any

NUM: dict[str, Any] = {"type": "number"}
NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
NUMS: dict[str, Any] = {"type": "array", "items": NUM}
STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}

# The keys every report starts with (see feint.report.provenance.stamp).
PROVENANCE: dict[str, Any] = {
    "feint_version": STR,
    "created": STR,
    "git_revision": {"type": ["string", "null"]},
}


def obj(props: dict[str, Any], *, extra: bool | dict[str, Any] = False) -> dict[str, Any]:
    """An object schema whose listed properties are all required; others allowed per ``extra``."""
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": extra}


def report_schema(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """The schema of a report ``name`` (e.g. ``"feint.transfer/1"``): its constant tag, provenance, ``props``."""
    return obj({"schema": {"const": name}, **PROVENANCE, **props})


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


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
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
