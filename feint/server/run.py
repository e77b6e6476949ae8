"""Running the server: bind first, then uvicorn, until SIGTERM or Ctrl-C (both shut down cleanly)."""

from __future__ import annotations

import signal
import socket
import sys
from typing import Any

from feint.errors import InputError
from feint.server.requests import Limits
from feint.server.served import Served


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear error (busy port, unknown host)."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port must lie in 0..65535, got {port}")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is in use" if exc.errno in (98, 48) else f"cannot be opened ({exc.strerror})"
        raise InputError(f"port {port} on {host} {reason}; pick another with --port or stop what holds it") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_app(
    served: Served, *, host: str = "127.0.0.1", port: int = 8080, limits: Limits | None = None
) -> dict[str, Any]:
    """Serve ``served`` until stopped; returns the query log (rows answered in total and per client).
    :func:`feint.server.start.serve` (``feint.serve``) checks and loads a model, then calls this."""
    import uvicorn

    from feint.server.app import create_app

    sock = bind(host, port)
    app = create_app(served, limits=limits)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_keep_alive=30, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    actual = sock.getsockname()[1]
    guard = served.guard
    guarded = f", {guard.detector.kind} detector: {guard.on_flag} flagged inputs" if guard is not None else ""
    print(
        f"serving {served.name} ({served.loaded.describe()}) at http://{shown}:{actual}/v2/models/{served.name} "
        f"(output: {served.output}{guarded}); stop with Ctrl-C or SIGTERM",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn shuts down gracefully on SIGTERM / SIGINT, then re-raises the signal to the handler it
    # found: a no-op one here, so the process ends normally with the summary instead of being killed.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log: dict[str, Any] = app.state.log.to_dict()
    return log
