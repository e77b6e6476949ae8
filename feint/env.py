"""Limits read from the environment (``FEINT_ONNX_TIMEOUT``, ``FEINT_HTTP_TIMEOUT``), checked like options."""

from __future__ import annotations

import math
import os

from feint.errors import InputError


def seconds(name: str, default: float) -> float:
    """The positive, finite number of seconds in environment variable ``name``, else ``default``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}={text!r} is not a positive number of seconds (e.g. {default * 4:g})")
    return value
