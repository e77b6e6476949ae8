"""Writing a report: ``report.json`` (through :func:`json_safe`) and ``report.html``, each atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from feint.io import write_json, write_text


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps`` accepts: nan/inf -> None, tensors and arrays -> lists,
    NumPy scalars -> Python numbers, tuples -> lists, paths -> strings, dict keys -> strings."""
    if isinstance(obj, Tensor):
        return json_safe(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_report(out: str | os.PathLike[str], report: dict[str, Any], html: str) -> dict[str, Path]:
    """Write ``out/report.json`` and ``out/report.html`` (each to a temporary name, then renamed)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "json": Path(write_json(folder / "report.json", json_safe(report))),
        "html": Path(write_text(folder / "report.html", html)),
    }
