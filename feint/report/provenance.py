"""What every report records about where it came from: feint's version, the git revision, the time.

Saving the revision and settings with every run follows MadryLab's robustness library (Engstrom
et al. 2019, "Robustness (Python Library)").
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from torch import nn

from feint.version import __version__


def git_revision() -> str | None:
    """The git commit of the feint source tree, when it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def stamp(schema: str) -> dict[str, Any]:
    """The first keys of every report: ``schema``, ``feint_version``, ``created`` (UTC) and ``git_revision``."""
    return {
        "schema": schema,
        "feint_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
    }


def model_info(model: nn.Module | Any, name: str | None) -> dict[str, Any]:
    """Name, parameter count and a one-line description of a torch model (for a query-only model:
    its name, ``None`` parameters and the access it gives)."""
    if not isinstance(model, nn.Module):
        return {"name": name or model.name, "parameters": None, "description": f"{type(model).__name__} ({model.name})"}
    children = ", ".join(type(m).__name__ for m in model.children())
    return {
        "name": name or type(model).__name__,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "description": f"{type(model).__name__}({children})" if children else type(model).__name__,
    }
