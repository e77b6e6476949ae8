"""Checking an inference request before the model sees it.

Every problem is a :class:`RequestError` with the HTTP status to answer and a message naming the
problem and the fix: 400 for a body that is not a valid message (not JSON, nested too deep,
an integer too long, a bad ``Inference-Header-Content-Length``, bytes after the tensors it
declares), 413 for one too large (bytes or rows), 422 for a valid message the model cannot take
(input name, datatype, shape, values that are not numbers of the datatype, NaN or infinite
values, values outside the bounds, unknown outputs, parameters of the wrong type).

``binary_data_output`` and an output's ``binary_data`` are booleans in Triton's binary tensor
extension; any other JSON value (the string ``"false"`` included) is refused with 422 rather than
guessed at.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from feint.oracles.v2protocol import ProtocolError, split_body, tensor_array

FLOATS = ("FP32", "FP64", "FP16")


class RequestError(Exception):
    """A request refused with ``status``; for a transient refusal, seconds to wait before a retry; ``close``:
    the connection must be closed (its body stopped arriving, or would not end)."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.retry_after, self.close = status, retry_after, close


JSON_BYTES_PER_VALUE = 32  # the longest float32 written as JSON ("-1.2345678901234567e-05, ") and then some
JSON_HEAD_BYTES = 64 * 2**10  # names, shape, datatype, parameters, id


@dataclass(frozen=True)
class Limits:
    """Caps on one request: ``max_rows`` inputs and ``max_body`` bytes; its body must arrive within
    ``body_timeout`` seconds."""

    max_rows: int = 4096
    max_body: int = 64 * 2**20
    body_timeout: float = 30.0

    def body_cap(self, input_shape: tuple[int, ...]) -> int:
        """The largest body a valid request can need: ``max_rows`` inputs written as JSON, at most ``max_body``."""
        return min(self.max_body, self.max_rows * math.prod(input_shape) * JSON_BYTES_PER_VALUE + JSON_HEAD_BYTES)


@dataclass(frozen=True)
class Parsed:
    """A checked request: the inputs (N, *input_shape) float32, its id, whether to answer in binary and
    the outputs it asked for (empty: all)."""

    x: np.ndarray
    request_id: str | None
    binary: bool
    outputs: tuple[str, ...] = ()


def _flag(params: Any, key: str, default: bool, where: str) -> bool:
    """The boolean parameter ``key`` of a ``parameters`` object (``default`` when absent)."""
    if params is None:
        return default
    if not isinstance(params, dict):
        raise RequestError(422, f"{where} must be an object of parameters")
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(422, f"{where}.{key} is {json.dumps(value)[:40]}; it must be true or false (a JSON boolean)")
    return value


def _outputs_wanted(doc: dict[str, Any], known: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """(answer in binary, the output names asked for; empty when the request names none)."""
    wanted = _flag(doc.get("parameters"), "binary_data_output", False, "parameters")
    outputs = doc.get("outputs")
    if outputs is None:
        return wanted, ()
    if not isinstance(outputs, list):
        raise RequestError(422, "outputs must be a list of {name: ...} objects")
    names = []
    for spec in outputs:
        name = spec.get("name") if isinstance(spec, dict) else None
        if name not in known:
            raise RequestError(422, f"unknown output {name!r}; this model answers {', '.join(map(repr, known))}")
        names.append(str(name))
        wanted = _flag(spec.get("parameters"), "binary_data", wanted, f"outputs[{len(names) - 1}].parameters")
    return wanted, tuple(names)


def parse_request(
    body: bytes,
    header_length: str | None,
    *,
    input_name: str,
    input_shape: tuple[int, ...],
    outputs: tuple[str, ...],
    bounds: tuple[float, float],
    limits: Limits,
) -> Parsed:
    """The checked inputs of an infer request, or :class:`RequestError`."""
    try:
        doc, blob = split_body(body, header_length)
    except ProtocolError as exc:
        raise RequestError(400, str(exc)) from exc
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise RequestError(422, f"inputs must be a list with exactly one tensor named {input_name!r}")
    spec = inputs[0]
    if not isinstance(spec, dict) or spec.get("name") != input_name:
        got = spec.get("name") if isinstance(spec, dict) else spec
        raise RequestError(422, f"unknown input {got!r}; this model takes one input named {input_name!r}")
    if spec.get("datatype") not in FLOATS:
        raise RequestError(422, f"input datatype {spec.get('datatype')!r} is not accepted; send FP32 pixels")
    shape = spec.get("shape")
    if isinstance(shape, list) and shape and isinstance(shape[0], int) and shape[0] > limits.max_rows:
        raise RequestError(413, f"{shape[0]} rows in one request; send at most {limits.max_rows} per request")
    if not isinstance(shape, list) or tuple(shape[1:]) != input_shape or not shape or shape[0] == 0:
        raise RequestError(422, f"input shape {shape!r} does not fit; send [rows, {', '.join(map(str, input_shape))}]")
    try:
        x, end = tensor_array(spec, blob, 0, "inputs[0]")
    except ProtocolError as exc:
        raise RequestError(422, str(exc)) from exc
    if end != len(blob):
        raise RequestError(
            400,
            f"the body has {len(blob) - end} bytes after the JSON that no tensor declares; send only declared bytes",
        )
    x = np.array(x, dtype=np.float32)  # a writable copy of the request's bytes
    if not np.isfinite(x).all():
        raise RequestError(422, "the input contains NaN or infinite values; send finite pixels")
    lo, hi = bounds
    if x.min() < lo - 1e-5 or x.max() > hi + 1e-5:
        raise RequestError(
            422, f"input values lie in [{x.min():.4g}, {x.max():.4g}], outside the bounds [{lo:g}, {hi:g}]"
        )
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(422, f"id must be a string, got {type(request_id).__name__}")
    binary, names = _outputs_wanted(doc, outputs)
    return Parsed(x, request_id, binary, names)
