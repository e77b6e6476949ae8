"""``feint serve``: serve a model over the Open Inference Protocol (KServe v2) with FastAPI + uvicorn."""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import click

from feint.cli.common import (
    device_option,
    model_options,
    resolve_device,
    trust_option,
)
from feint.errors import InputError
from feint.serve.guard import ON_FLAG
from feint.serve.served import SERVE_OUTPUTS

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError as exc:
        raise InputError(f"--input-shape {text!r} is not C,H,W (e.g. 1,28,28)") from exc
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape {text!r} must be positive sizes, e.g. 1,28,28")
    return shape


def _input_shape(shape: tuple[int, ...] | None, config: dict | None, loaded: object) -> tuple[int, ...]:
    if shape is not None:
        return shape
    if config is not None:
        return tuple(config["data"]["input_shape"])
    oracle = getattr(loaded, "oracle", None)
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


@click.command()
@model_options(trust=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--name", default=None, help="model name in the URL (default: from --model)")
@click.option("--output", type=click.Choice(SERVE_OUTPUTS), default="logits", show_default=True)
@click.option("--input-shape", default=None, help="C,H,W when the model does not record it (e.g. a factory)")
@click.option("--max-rows", default=4096, show_default=True, type=int, help="most inputs in one request")
@click.option("--max-body-mb", default=64.0, show_default=True, type=float, help="largest request body")
@click.option(
    "--body-timeout", default=30.0, show_default=True, type=float, help="seconds a client may take to send a body"
)
@click.option(
    "--probe-timeout",
    default=60.0,
    show_default=True,
    type=float,
    help="seconds loading the model and its start-up probe may take (each)",
)
@trust_option()
@click.option("--detector", "detector_dir", default=None, help="a detector fitted on --model: flag its detections")
@click.option(
    "--on-flag", type=click.Choice(ON_FLAG), default="refuse", show_default=True,
    help="a flagged input: withhold its answer (a blank row; output 'flagged' says which) or mark it (answer and flag)",
)  # fmt: skip
@device_option
def serve_command(
    model_spec: str,
    weights: str | None,
    host: str,
    port: int,
    name: str | None,
    output: str,
    input_shape: str | None,
    max_rows: int,
    max_body_mb: float,
    body_timeout: float,
    probe_timeout: float,
    trust_file: bool,
    detector_dir: str | None,
    on_flag: str,
    device: str,
) -> None:
    """Serve a model at http://HOST:PORT/v2/models/NAME (Open Inference Protocol); Ctrl-C or SIGTERM stops it.

    With --detector, every input meets a fitted detector first; flagged inputs are answered with a
    flag (--on-flag) and counted at GET .../stats. Every setting is checked before the port is bound."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError("feint serve needs FastAPI and uvicorn: pip install 'feint[serve]'") from exc
    from feint.models import resolve
    from feint.serve.guard import load_guard
    from feint.serve.requests import Limits
    from feint.serve.run import bind, serve
    from feint.serve.served import ProbeTimeout, Served, bounded

    if max_rows < 1:
        raise InputError(f"--max-rows must be at least 1, got {max_rows}")
    _positive("--max-body-mb", max_body_mb, 2**20)
    _positive("--body-timeout", body_timeout, 3600)
    _positive("--probe-timeout", probe_timeout, 24 * 3600)
    limits = Limits(max_rows, int(max_body_mb * 2**20), body_timeout)
    shape = _parse_shape(input_shape) if input_shape is not None else None
    if shape is not None:
        _check_fits(shape, limits.max_body)
    name = name or (Path(model_spec.rstrip("/")).stem if "://" not in model_spec else model_spec.rsplit("/", 1)[-1])
    if not NAME.match(name):
        raise InputError(f"model name {name!r} may use only letters, digits, '_', '.' and '-'; pass --name")
    bind(host, port).close()  # a busy port fails before the model is loaded
    try:
        # Loading runs the model too (an ONNX graph is checked through onnxruntime before conversion):
        # the start-up deadline covers it as well as the probe.
        loaded = bounded(
            lambda: resolve(model_spec, weights=weights, device=str(resolve_device(device)), trust=trust_file),
            probe_timeout,
            f"loading {model_spec}",
        )
        guard = load_guard(detector_dir, loaded, on_flag=on_flag) if detector_dir is not None else None
        shape = _input_shape(shape, loaded.config, loaded)
        _check_fits(shape, limits.max_body)
        bounds = guard.detector.bounds if guard is not None else (0.0, 1.0)
        served = Served(loaded, name, output, shape, bounds=bounds, guard=guard, probe_timeout=probe_timeout)
    except ProbeTimeout as exc:
        # The probe's thread is stuck in the model's native code; shutting the interpreter down under it
        # aborts onnxruntime (exit 134, its log on stderr), so leave at once with the one line.
        click.echo(f"error: {exc}", err=True)
        sys.stderr.flush()
        os._exit(2)
    log = serve(served, host=host, port=port, limits=limits)
    flagged = f"; the detector flagged {log['flagged']} rows" if guard is not None else ""
    click.echo(f"stopped after answering {log['queries']} rows in {log['requests']} requests{flagged}", err=True)
