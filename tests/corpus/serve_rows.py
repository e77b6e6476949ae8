"""Corpus rows: `feint serve` start-up (issue 19, class 3). Every bad setting is one line and exit 2;
settings are refused before the port is bound (``bind`` must not run), an input too large for any
request before the model is probed (``Served`` must not be built), and a busy port before the model
is loaded (``resolve`` must not run)."""

from __future__ import annotations

import socket

import click

from corpus import Case, Ctx
from feint.errors import InputError, ModelError

SERVE = ("serve", "--model", "{run}")
NOT_BOUND = ("feint.server.run.bind", "feint.models.resolve")
NOT_SERVED = ("feint.server.run.serve_app",)


def setting_row(id: str, phrase: str, *args: str) -> Case:
    """A bad setting: refused before the port is bound or the model loaded."""
    return Case(f"serve-{id}", cli=(*SERVE, *args), error=InputError, phrase=phrase, forbid=NOT_BOUND)


def _junk_onnx(c: Ctx) -> None:
    (c.tmp / "bad.onnx").write_bytes(b"junk")


def _busy_port(c: Ctx) -> None:
    """``feint serve`` on a port another socket listens on (the command itself, as the CLI runs it)."""
    from feint.cli.serve import serve_command

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        serve_command.main(["--model", str(c.run), "--port", port], standalone_mode=False)


POSITIVE = "must be a positive number of at most"
ROWS = [
    setting_row("max-body-nan", f"--max-body-mb {POSITIVE} 1,048,576, got nan", "--max-body-mb", "nan"),
    setting_row("max-body-inf", f"--max-body-mb {POSITIVE} 1,048,576, got inf", "--max-body-mb", "inf"),
    setting_row("max-body-negative", f"--max-body-mb {POSITIVE}", "--max-body-mb", "-1"),
    setting_row("max-body-zero", f"--max-body-mb {POSITIVE}", "--max-body-mb", "0"),
    setting_row("max-body-1e30", f"--max-body-mb {POSITIVE}", "--max-body-mb", "1e30"),
    setting_row("body-timeout-nan", f"--body-timeout {POSITIVE} 3,600, got nan", "--body-timeout", "nan"),
    setting_row("body-timeout-zero", f"--body-timeout {POSITIVE}", "--body-timeout", "0"),
    setting_row("body-timeout-inf", f"--body-timeout {POSITIVE}", "--body-timeout", "inf"),
    setting_row("probe-timeout-negative", f"--probe-timeout {POSITIVE}", "--probe-timeout", "-1"),
    setting_row("probe-timeout-nan", f"--probe-timeout {POSITIVE}", "--probe-timeout", "nan"),
    setting_row("max-rows-zero", "--max-rows must be at least 1, got 0", "--max-rows", "0"),
    setting_row("max-rows-negative", "--max-rows must be at least 1, got -5", "--max-rows", "-5"),
    setting_row(
        "input-shape-1e12",
        r"one input of shape \[1, 1000000, 1000000\] takes 4,000,000,000,000 bytes as FP32, more than a request body may hold",
        "--input-shape",
        "1,1000000,1000000",
    ),
    setting_row("input-shape-20-digits", "more than a request body may hold", "--input-shape", "99999999999999999999"),
    setting_row("input-shape-zero", "must be positive sizes", "--input-shape", "0,8,8"),
    setting_row("input-shape-words", "is not C,H,W", "--input-shape", "a,b"),
    setting_row(
        "input-shape-over-small-body",
        r"more than a request body may hold \(104 bytes by --max-body-mb\)",
        "--input-shape",
        "1,8,8",
        "--max-body-mb",
        "0.0001",
    ),
    setting_row("name-with-slash", "model name 'a/b' may use only letters", "--name", "a/b"),
    Case(
        "serve-port-70000",
        cli=(*SERVE, "--port", "70000"),
        error=InputError,
        phrase="--port must lie in 0..65535, got 70000",
        forbid=("feint.models.resolve",),
    ),
    Case(
        "serve-port-negative",
        cli=(*SERVE, "--port", "-1"),
        error=InputError,
        phrase="--port must lie in 0..65535, got -1",
        forbid=("feint.models.resolve",),
    ),
    Case(
        "serve-host-unknown",
        cli=(*SERVE, "--host", "no such host", "--port", "0"),
        error=InputError,
        phrase="port 0 on no such host cannot be opened",
        forbid=("feint.models.resolve",),
    ),
    Case(
        "serve-busy-port",
        call=_busy_port,
        error=InputError,
        phrase=r"port \d+ on 127.0.0.1 is in use; pick another",
        forbid=("feint.models.resolve",),
    ),
    Case(
        "serve-output-unknown",
        cli=(*SERVE, "--output", "secrets"),
        error=click.UsageError,
        phrase="'secrets' is not one of",
    ),
    Case(
        "serve-max-rows-words",
        cli=(*SERVE, "--max-rows", "many"),
        error=click.UsageError,
        phrase="'many' is not a valid integer",
    ),
    Case(
        "serve-model-missing",
        cli=("serve", "--model", "{tmp}/missing", "--port", "0"),
        error=ModelError,
        phrase="no model directory at",
        forbid=NOT_SERVED,
    ),
    Case(
        "serve-model-junk-onnx",
        make=_junk_onnx,
        cli=("serve", "--model", "{tmp}/bad.onnx", "--port", "0"),
        error=ModelError,
        phrase="not a readable ONNX model",
        forbid=NOT_SERVED,
    ),
    Case(
        "serve-model-over-small-body",
        cli=(*SERVE, "--max-body-mb", "0.0001", "--port", "0"),
        error=InputError,
        phrase=r"one input of shape \[1, 8, 8\] takes 256 bytes as FP32",
        forbid=("feint.server.served.Served", *NOT_SERVED),
    ),
    Case(
        "serve-input-shape-the-model-cannot-take",
        cli=(*SERVE, "--input-shape", "1,28,28", "--port", "0"),
        error=ModelError,
        phrase=r"fails on an input of shape \[1, 28, 28\]",
        forbid=NOT_SERVED,
    ),
]
