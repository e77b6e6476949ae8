"""Checking an inference request before the model sees it.

Every problem is a :class:`RequestError` with the HTTP status to answer and a message naming the
problem and the fix: 400 for a body that is not a valid message, 413 for one too large (bytes
or rows), 422 for a valid message the model cannot take (input name, datatype, shape, NaN or
infinite values, values outside the bounds, unknown outputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from feint.oracles.v2protocol import ProtocolError, split_body, tensor_array

FLOATS = ("FP32", "FP64", "FP16")


class RequestError(Exception):
    """A request refused with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Caps on one request: ``max_rows`` inputs and ``max_body`` bytes."""

    max_rows: int = 4096
    max_body: int = 64 * 2**20


@dataclass(frozen=True)
class Parsed:
    """A checked request: the inputs (N, *input_shape) float32, its id, whether to answer in binary and
    the outputs it asked for (empty: all)."""

    x: np.ndarray
    request_id: str | None
    binary: bool
    outputs: tuple[str, ...] = ()


def _outputs_wanted(doc: dict[str, Any], known: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """(answer in binary, the output names asked for; empty when the request names none)."""
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    wanted = bool(params.get("binary_data_output", False)) if params else False
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
        p = spec.get("parameters")
        wanted = bool(p.get("binary_data", wanted)) if isinstance(p, dict) else wanted
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
        x, _ = tensor_array(spec, blob, 0, "inputs[0]")
    except ProtocolError as exc:
        raise RequestError(422, str(exc)) from exc
    x = np.array(x, dtype=np.float32)  # a writable copy of the request's bytes
    if not np.isfinite(x).all():
        raise RequestError(422, "the input contains NaN or infinite values; send finite pixels")
    lo, hi = bounds
    if x.min() < lo - 1e-5 or x.max() > hi + 1e-5:
        raise RequestError(
            422, f"input values lie in [{x.min():.4g}, {x.max():.4g}], outside the bounds [{lo:g}, {hi:g}]"
        )
    request_id = doc.get("id")
    binary, names = _outputs_wanted(doc, outputs)
    return Parsed(x, str(request_id) if request_id is not None else None, binary, names)
