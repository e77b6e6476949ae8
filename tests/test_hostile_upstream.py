"""Model URLs whose server is hostile or broken: every command ends in one clear error within its deadline.

A tiny HTTP server on 127.0.0.1 (a free port, daemon handler threads, each reply bounded in time
and size, shut down after the test) speaks just enough of the Open Inference Protocol to be loaded
as a model, then misbehaves in one way per case: it trickles its reply, answers 503 with a
Retry-After of an hour, sends JSON nested 200,000 deep, declares or streams a huge body, or
serves a model of 3 classes. ``FEINT_HTTP_TIMEOUT=1`` keeps the deadlines short.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from feint.cli import main
from feint.errors import InputError, ModelError

HANDLER_SECONDS = 20.0  # no handler outlives this, whatever the client does


def _meta(classes: int = 10) -> dict[str, Any]:
    return {
        "name": "m",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 8, 8]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, classes]}],
    }


class Hostile(BaseHTTPRequestHandler):
    """Answers health and metadata like a v2 server; ``server.behaviour`` decides the rest."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, code: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.send_response(code)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(raw)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        behaviour = self.server.behaviour  # type: ignore[attr-defined]
        if self.path == "/v2/health/ready":
            self._json(200, {})
        elif self.path == "/v2":
            self._json(200, {"extensions": []})
        elif self.path == "/v2/models/m":
            behaviour(self, "meta")
        else:
            self._json(404, {"error": "no such path"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.behaviour(self, "infer")  # type: ignore[attr-defined]

    def trickle(self, raw: bytes, pause: float) -> None:
        """Send ``raw`` a byte at a time until done, the client leaves, or HANDLER_SECONDS pass."""
        stop = time.monotonic() + HANDLER_SECONDS
        try:
            for b in raw:
                if time.monotonic() > stop:
                    return
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(pause)
        except OSError:  # the client closed the connection: what the deadline is for
            return


def _valid_meta(then: Callable[[Hostile], None], classes: int = 10) -> Callable[[Hostile, str], None]:
    def behaviour(h: Hostile, what: str) -> None:
        if what == "meta":
            h._json(200, _meta(classes))
        else:
            then(h)

    return behaviour


def _trickle_body(h: Hostile) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    h.trickle(b" " * 100000, 0.05)


def _trickle_head(h: Hostile) -> None:
    h.trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10000, 0.05)


def _deep(h: Hostile) -> None:
    h._json(200, b'{"outputs": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")


def _declared_huge(h: Hostile) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(10**12))
    h.end_headers()
    h.wfile.write(b"{")


def _endless_chunks(h: Hostile) -> None:
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"0" * 2**20
    try:
        for _ in range(200):  # 200 MiB at most, far past the client's limit
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    except OSError:
        return


CASES: list[tuple[str, Callable[[Hostile, str], None], type[Exception], str, float]] = [
    (
        "trickled-body",
        _valid_meta(_trickle_body),
        ModelError,
        r"failed after \d tries: Overtime.*FEINT_HTTP_TIMEOUT",
        8,
    ),
    ("trickled-head", _valid_meta(_trickle_head), ModelError, r"failed after \d tries: Overtime", 8),
    (
        "retry-after-an-hour",
        _valid_meta(lambda h: h._json(503, {"error": "later"}, {"Retry-After": "3600"})),
        ModelError,
        r"HTTP 503 with Retry-After: 3600 s, longer than feint waits \(10 s\)",
        3,
    ),
    (
        "retry-after-2s-forever",
        _valid_meta(lambda h: h._json(503, {"error": "later"}, {"Retry-After": "2"})),
        ModelError,
        r"failed after \d tries: HTTP 503",
        8,
    ),
    (
        "metadata-200k-deep",
        lambda h, what: _deep(h),
        ModelError,
        "answered model metadata nested too deeply to read",
        3,
    ),
    ("reply-200k-deep", _valid_meta(_deep), ModelError, "answered an inference reply nested too deeply", 3),
    ("reply-declares-a-terabyte", _valid_meta(_declared_huge), ModelError, "answered more than 64 MiB", 3),
    ("reply-streams-without-end", _valid_meta(_endless_chunks), ModelError, "answered more than 64 MiB", 8),
    (
        "model-of-3-classes",
        _valid_meta(lambda h: h._json(500, {"error": "never asked"}), classes=3),
        InputError,
        "predicts 3 classes but digits has 10",
        3,
    ),
]


@contextmanager
def hostile_server(behaviour: Callable[[Hostile, str], None]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    server.behaviour = behaviour  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/models/m"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("behaviour", "error", "phrase", "seconds"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_model_url_ends_in_one_clear_error_in_time(
    behaviour: Callable[[Hostile, str], None],
    error: type[Exception],
    phrase: str,
    seconds: float,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
) -> None:
    monkeypatch.setenv("FEINT_HTTP_TIMEOUT", "1")
    monkeypatch.chdir(tmp_path)
    with hostile_server(behaviour) as url:
        start = time.monotonic()
        result = CliRunner().invoke(main, ["attack", "--model", url, "--attack", "square", "--n-inputs", "4"])
        took = time.monotonic() - start
    err = result.stderr.strip()
    assert result.exit_code == 2 and err.count("\n") == 0 and err.startswith("error: "), (result.exit_code, err)
    assert re.search(phrase, err), err
    assert isinstance(result.exception.__context__, error), repr(result.exception.__context__)  # type: ignore[union-attr]
    assert took < seconds, f"took {took:.1f} s"
    assert list(tmp_path.iterdir()) == []


def test_a_bad_timeout_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEINT_HTTP_TIMEOUT", "nan")
    result = CliRunner().invoke(main, ["attack", "--model", "http://127.0.0.1:9/v2/models/m", "--n-inputs", "2"])
    assert result.exit_code == 2 and "FEINT_HTTP_TIMEOUT='nan' is not a positive number" in result.stderr
