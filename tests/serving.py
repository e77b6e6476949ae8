"""``feint serve`` as a real subprocess on 127.0.0.1 for tests: started on a free port, waited for
(bounded), always stopped with SIGTERM, and checked to have shut down cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen, startup_s: float = 120) -> None:
    """Poll ``base``'s readiness endpoint until it answers 200 (RuntimeError if ``proc`` ends or time runs out)."""
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"feint serve did not start: {proc.stderr.read() if proc.stderr else ''}")


@contextmanager
def feint_server(
    *args: str, startup_s: float = 120, summary: str = "stopped after answering", cwd: str | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``feint serve ARGS --port FREE`` (in ``cwd``): yields (base URL, process); stops it on exit and checks
    that it shut down cleanly, printing ``summary`` (a regex) on stderr."""
    port = free_port()
    cmd = [sys.executable, "-m", "feint", "serve", *args, "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, startup_s)
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0 and re.search(summary, err), err  # clean shutdown on SIGTERM
