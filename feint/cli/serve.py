"""``feint serve``: serve a model over the Open Inference Protocol (KServe v2) with FastAPI + uvicorn."""

from __future__ import annotations

import os
import sys

import click

from feint.cli.common import (
    device_option,
    model_options,
    resolve_device,
    trust_option,
)
from feint.errors import InputError
from feint.server.guard import ON_FLAG
from feint.server.served import SERVE_OUTPUTS


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError as exc:
        raise InputError(f"--input-shape {text!r} is not C,H,W (e.g. 1,28,28)") from exc
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape {text!r} must be positive sizes, e.g. 1,28,28")
    return shape


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
    from feint.server.served import ProbeTimeout
    from feint.server.start import serve

    try:
        log = serve(
            model_spec,
            name=name,
            host=host,
            port=port,
            output=output,
            input_shape=_parse_shape(input_shape) if input_shape is not None else None,
            weights=weights,
            trust_file=trust_file,
            detector=detector_dir,
            on_flag=on_flag,
            device=resolve_device(device),
            max_rows=max_rows,
            max_body_mb=max_body_mb,
            body_timeout=body_timeout,
            probe_timeout=probe_timeout,
        )
    except ProbeTimeout as exc:
        # The probe's thread is stuck in the model's native code; shutting the interpreter down under it
        # aborts onnxruntime (exit 134, its log on stderr), so leave at once with the one line.
        click.echo(f"error: {exc}", err=True)
        sys.stderr.flush()
        os._exit(2)
    flagged = f"; the detector flagged {log['flagged']} rows" if detector_dir is not None else ""
    click.echo(f"stopped after answering {log['queries']} rows in {log['requests']} requests{flagged}", err=True)
