"""Resolve a model given on the command line: a feint run directory, or ``package.module:factory``.

A factory is any callable returning an ``nn.Module`` that maps inputs in pixel space to logits;
its weights come from ``--weights`` (a safetensors file, never a pickle).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from torch import nn

from feint.errors import ModelError
from feint.models.io import CONFIG, load_config, load_model, load_weights


def _import_factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ModelError(f"model {spec!r} is neither a feint run directory nor 'package.module:factory'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"cannot import module {module_name!r} for model {spec!r} ({exc}); check PYTHONPATH") from exc
    except Exception as exc:  # the module's own code failed while importing
        raise ModelError(f"importing {module_name!r} for model {spec!r} failed ({type(exc).__name__}: {exc})") from exc
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ModelError(f"module {module_name!r} has no callable {attr!r}; name a function that returns an nn.Module")
    return factory


def resolve_model(
    spec: str | os.PathLike[str], *, weights: str | os.PathLike[str] | None = None, device: str | None = None
) -> tuple[nn.Module, dict[str, Any] | None]:
    """Return ``(model in eval mode, feint config or None)`` for a run directory or a factory spec."""
    path = Path(spec)
    if path.is_dir() or (path / CONFIG).exists():
        return load_model(path, device=device), load_config(path)
    if ":" not in str(spec):
        raise ModelError(
            f"no model directory at {str(spec)!r}; pass a feint run directory (from `feint train --out DIR`) "
            "or 'package.module:factory' with --weights"
        )
    factory = _import_factory(str(spec))
    try:
        model = factory()
    except Exception as exc:  # a user's factory may raise anything
        raise ModelError(
            f"the factory {spec!r} raised {type(exc).__name__}: {exc}; it must build the model with no arguments"
        ) from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"{spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        load_weights(model, weights, device=device)
    if device:
        model = model.to(device)
    return model.eval(), None
