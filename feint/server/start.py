"""Serving a model from Python (``feint.serve``), what ``feint serve`` runs: every setting is checked,
the port tried and the model loaded and probed before the server starts."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from feint.errors import InputError

if TYPE_CHECKING:
    from feint.models.loading import LoadedModel

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def serve(
    model: str | os.PathLike[str] | nn.Module | LoadedModel,
    *,
    name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    output: str = "logits",
    input_shape: Sequence[int] | None = None,
    weights: str | os.PathLike[str] | None = None,
    trust_file: bool = False,
    detector: str | os.PathLike[str] | None = None,
    on_flag: str = "refuse",
    device: str | torch.device | None = None,
    max_rows: int = 4096,
    max_body_mb: float = 64.0,
    body_timeout: float = 30.0,
    probe_timeout: float = 60.0,
) -> dict[str, Any]:
    """Serve ``model`` at ``http://HOST:PORT/v2/models/NAME`` (Open Inference Protocol, KServe v2)
    until Ctrl-C or SIGTERM; returns the query log (requests, rows answered, per client, flagged).

    ``model`` is anything :func:`feint.models.resolve` loads (a run folder, ``package.module:factory``
    with ``weights``, ``file.onnx``, ``file.skops``, a pickle with ``trust_file=True``, a v2 URL), a
    :class:`~feint.models.LoadedModel` or an ``nn.Module`` (give ``input_shape``). ``name`` is the
    model's name in the URL (default: from ``model``); ``output`` is what a request gets back:
    ``"logits"``, ``"probabilities"`` or ``"label"``. ``input_shape`` (C, H, W) is needed only where
    the model does not record it. With ``detector`` (a folder saved by a detector fitted on this
    model) every input meets the detector first; a flagged input is withheld (``on_flag="refuse"``)
    or answered and marked (``"mark"``). A request holds at most ``max_rows`` inputs and
    ``max_body_mb`` MB and must arrive within ``body_timeout`` seconds; loading the model and its
    start-up probe may take ``probe_timeout`` seconds each. A busy port, a bad setting or a model that
    fails its probe is one clear error before anything is served.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError("feint serve needs FastAPI and uvicorn: pip install 'feint[serve]'") from exc
    from feint.server.guard import load_guard
    from feint.server.requests import Limits
    from feint.server.run import bind, serve_app
    from feint.server.served import Served, bounded

    if max_rows < 1:
        raise InputError(f"--max-rows must be at least 1, got {max_rows}")
    _positive("--max-body-mb", max_body_mb, 2**20)
    _positive("--body-timeout", body_timeout, 3600)
    _positive("--probe-timeout", probe_timeout, 24 * 3600)
    limits = Limits(max_rows, int(max_body_mb * 2**20), body_timeout)
    shape = _check_shape(input_shape) if input_shape is not None else None
    if shape is not None:
        _check_fits(shape, limits.max_body)
    name = name or _default_name(model)
    if not NAME.match(name):
        raise InputError(f"model name {name!r} may use only letters, digits, '_', '.' and '-'; pass --name")
    bind(host, port).close()  # a busy port fails before the model is loaded
    # Loading runs the model too (an ONNX graph is checked through onnxruntime before conversion): the
    # start-up deadline covers it as well as the probe.
    loaded = bounded(lambda: _load(model, weights, device, trust_file), probe_timeout, f"loading {_spec(model)}")
    guard = load_guard(detector, loaded, on_flag=on_flag) if detector is not None else None
    shape = _input_shape(shape, loaded)
    _check_fits(shape, limits.max_body)
    bounds = guard.detector.bounds if guard is not None else (0.0, 1.0)
    served = Served(loaded, name, output, shape, bounds=bounds, guard=guard, probe_timeout=probe_timeout)
    return serve_app(served, host=host, port=port, limits=limits)


def _spec(model: Any) -> str:
    from feint.models.loading import LoadedModel

    if isinstance(model, LoadedModel):
        return model.spec
    return type(model).__name__ if isinstance(model, nn.Module) else str(model)


def _default_name(model: Any) -> str:
    spec = _spec(model)
    return Path(spec.rstrip("/")).stem if "://" not in spec else spec.rsplit("/", 1)[-1]


def _load(
    model: Any, weights: str | os.PathLike[str] | None, device: str | torch.device | None, trust: bool
) -> LoadedModel:
    from feint.models import resolve
    from feint.models.loading import LoadedModel

    where = str(device) if device is not None else None
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, nn.Module):
        return LoadedModel(_spec(model), "module", (model.to(where) if where else model).eval(), None)
    return resolve(model, weights=weights, device=where, trust=trust)


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        checked = tuple(int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise InputError(f"input_shape {shape!r} is not C,H,W sizes (e.g. 1,28,28)") from exc
    if not checked or min(checked) < 1:
        raise InputError(f"--input-shape {shape!r} must be positive sizes, e.g. 1,28,28")
    return checked


def _input_shape(shape: tuple[int, ...] | None, loaded: LoadedModel) -> tuple[int, ...]:
    if shape is not None:
        return shape
    if loaded.config is not None:
        return tuple(loaded.config["data"]["input_shape"])
    oracle = loaded.oracle
    known = getattr(oracle, "input_shape", None)
    if known:
        return tuple(known)
    features = getattr(getattr(oracle, "estimator", None), "n_features_in_", None)
    if features:
        return (int(features),)
    raise InputError("the model does not say what input it takes; pass --input-shape C,H,W (e.g. 1,28,28)")


def _check_fits(shape: tuple[int, ...], max_body: int) -> None:
    """One input must fit a request body (as binary FP32), estimated before anything is allocated."""
    size = math.prod(shape) * 4
    if size > max_body:
        raise InputError(
            f"one input of shape {list(shape)} takes {size:,} bytes as FP32, more than a request body may hold "
            f"({max_body:,} bytes by --max-body-mb); check --input-shape"
        )


def _positive(name: str, value: float, most: float) -> None:
    if not (math.isfinite(value) and 0 < value <= most):
        raise InputError(f"{name} must be a positive number of at most {most:,.0f}, got {value!r}")
