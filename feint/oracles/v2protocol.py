"""The Open Inference Protocol (KServe v2) wire format, shared by feint's HTTP oracle and ``feint serve``.

A request or reply body is JSON, optionally followed by raw tensor bytes (Triton's
``binary_tensor_data`` extension, which tritonclient uses by default): the header
``Inference-Header-Content-Length`` then gives the JSON's length, and each tensor with
``parameters.binary_data_size`` takes that many bytes, in order, little-endian, row-major.
Only numeric datatypes are used here. Decoding is strict and never evaluates anything: a bad
body raises :class:`ProtocolError` naming the problem, including JSON nested too deep to parse,
integers too long to convert, a header length that is not ASCII digits, and JSON ``data`` whose
values are not numbers of the datatype (a string or a boolean is not an FP32 value).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from feint.errors import FeintError

HEADER = "Inference-Header-Content-Length"
DATATYPES = {
    "FP32": np.float32,
    "FP64": np.float64,
    "FP16": np.float16,
    "INT64": np.int64,
    "INT32": np.int32,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}
DATATYPE_OF = {np.dtype(v).name: k for k, v in DATATYPES.items()}
DIGITS = re.compile(r"[0-9]{1,18}")  # str.isdigit() also takes '²' and '١', which int() refuses or reads


class ProtocolError(FeintError):
    """A body that is not a valid Open Inference Protocol message."""


class NestedTooDeep(ProtocolError):
    """A body whose JSON is nested deeper than Python's parser can go (a hostile peer's, never a tensor's)."""


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """(JSON part as a dict, the binary part after it)."""
    cut = len(body)
    if header_length is not None:
        if not DIGITS.fullmatch(header_length) or int(header_length) > len(body):
            raise ProtocolError(f"{HEADER} is {header_length!r}, not a length within the {len(body)}-byte body")
        cut = int(header_length)
    try:
        doc = json.loads(body[:cut])
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer over 4,300 digits
        raise ProtocolError(f"the body is not valid JSON ({str(exc)[:200]})") from exc
    except RecursionError as exc:
        raise NestedTooDeep("the body's JSON is nested too deep; a tensor needs one level per dimension") from exc
    if not isinstance(doc, dict):
        raise ProtocolError(f"the body must be a JSON object, got {type(doc).__name__}")
    return doc, body[cut:]


def tensor_array(spec: Any, blob: bytes, offset: int, where: str) -> tuple[np.ndarray, int]:
    """Decode one tensor object (JSON ``data`` or binary bytes at ``offset``); returns (array, new offset)."""
    if not isinstance(spec, dict):
        raise ProtocolError(f"{where} must be an object with name, shape, datatype and data")
    datatype, shape = spec.get("datatype"), spec.get("shape")
    if datatype not in DATATYPES:
        raise ProtocolError(f"{where} has datatype {datatype!r}; use one of {', '.join(DATATYPES)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(f"{where} has shape {shape!r}; give a list of non-negative integers")
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    count = math.prod(shape)
    size = (spec.get("parameters") or {}).get("binary_data_size") if isinstance(spec.get("parameters"), dict) else None
    if size is not None:
        if not isinstance(size, int) or size != count * dtype.itemsize or offset + size > len(blob):
            raise ProtocolError(
                f"{where} says binary_data_size={size!r}, which does not match shape {shape} of {datatype}"
            )
        arr = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
        return arr.reshape(shape).astype(dtype.newbyteorder("="), copy=False), offset + size
    data = spec.get("data")
    if data is None:
        raise ProtocolError(f"{where} has neither data nor parameters.binary_data_size")
    _check_values(data, len(shape), datatype, where)
    try:
        arr = np.asarray(data, dtype=DATATYPES[datatype])
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(f"{where}.data is not a list of {datatype} numbers ({str(exc)[:120]})") from exc
    if arr.size != count:
        raise ProtocolError(f"{where}.data holds {arr.size} values but shape {shape} needs {count}")
    return arr.reshape(shape), offset


def _check_values(data: Any, depth: int, datatype: str, where: str) -> None:
    """``data`` is a list of numbers of ``datatype``, flat or nested up to ``depth`` levels (row-major)."""
    if not isinstance(data, list):
        raise ProtocolError(f"{where}.data must be a list of {datatype} values, got {type(data).__name__}")
    values: list[Any] = data
    for _ in range(max(depth - 1, 0)):  # a nested list has one level per dimension
        if not any(isinstance(v, list) for v in values):
            break
        if not all(isinstance(v, list) for v in values):
            raise ProtocolError(f"{where}.data mixes lists and values; give it flat or nested by dimension")
        values = list(itertools.chain.from_iterable(values))
    kinds = (bool,) if datatype == "BOOL" else (int,) if datatype[0] in "IU" else (int, float)  # exact: bool is no int
    wrong = [v for v in itertools.islice((v for v in values if type(v) not in kinds), 1)]
    if wrong:
        shown = json.dumps(wrong[0])[:40]
        raise ProtocolError(
            f"{where}.data holds {shown}, which is not of datatype {datatype}; send values of that datatype"
        )


def encode(
    doc: dict[str, Any], key: str, tensors: Sequence[tuple[str, np.ndarray]], *, binary: bool
) -> tuple[bytes, dict[str, str]]:
    """A body: ``doc`` with the named arrays under ``key`` ("inputs" or "outputs"), as JSON data or
    in binary after the JSON; returns (body, headers)."""
    entries, blobs = [], []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        entry: dict[str, Any] = {"name": name, "shape": list(arr.shape), "datatype": DATATYPE_OF[arr.dtype.name]}
        if binary:
            raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = arr.reshape(-1).tolist()
        entries.append(entry)
    head = json.dumps({**doc, key: entries}, separators=(",", ":")).encode()
    if not binary:
        return head, {"Content-Type": "application/json"}
    return head + b"".join(blobs), {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}
