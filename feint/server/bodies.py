"""Reading request bodies so that one client cannot take the server's memory or connections.

- **Size before reading**: a declared ``Content-Length`` over the cap is refused (413) before a
  byte is read; a chunked body is counted as it streams and refused the moment it passes the cap.
  The cap is the smaller of ``--max-body-mb`` and what ``--max-rows`` inputs can take as JSON
  (:meth:`~feint.server.requests.Limits.body_cap`): no valid request is larger.
- **A shared budget**: bodies over :data:`SMALL` bytes reserve their size from a budget of
  :data:`BUDGET_CAPS` caps while they are read and parsed; one that does not fit is answered
  503 with ``Retry-After`` (a transient answer clients retry), so a crowd of large bodies cannot
  hold more than a few caps of memory. Small bodies (every ordinary request) never wait for it.
- **A deadline**: the whole body must arrive within ``body_timeout`` seconds, else 408 and the
  connection is closed, so a client that stops mid-body does not hold it.

A body refused from its declared length (413, 503) is drained and dropped by uvicorn, so the
client reads its answer rather than a reset; one refused while it streams is cut off (it might
never end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.requests import ClientDisconnect, Request

from feint.oracles.v2protocol import DIGITS
from feint.server.requests import RequestError

SMALL = 256 * 2**10
BUDGET_CAPS = 2


class BodyBudget:
    """Bytes of large bodies being read or parsed, at most ``total`` at once."""

    def __init__(self, total: int) -> None:
        self.total, self.used = total, 0

    def take(self, size: int) -> None:
        if self.used + size > self.total:
            raise RequestError(503, "the server is reading other large requests; retry in a second", retry_after=1)
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


@asynccontextmanager
async def read_body(request: Request, *, cap: int, timeout: float, budget: BodyBudget) -> AsyncIterator[bytes]:
    """The request's body, read within ``timeout`` seconds and at most ``cap`` bytes; a large one holds
    its share of ``budget`` until the block ends (while it is parsed)."""
    declared = request.headers.get("content-length")
    if declared is not None and not DIGITS.fullmatch(declared):
        raise RequestError(400, f"Content-Length is {declared[:40]!r}, not a number of bytes")
    if declared is not None and int(declared) > cap:
        raise RequestError(413, f"the body has {declared} bytes; send at most {cap} per request (fewer rows)")
    held = int(declared) if declared is not None and int(declared) > SMALL else 0
    budget.take(held)
    try:
        chunks, size = [], 0
        with anyio.move_on_after(timeout) as scope:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise RequestError(413, f"the body exceeds {cap} bytes; send fewer rows per request", close=True)
                if size > SMALL and size > held:  # a chunked body: reserve as it grows
                    budget.take(size - held)
                    held = size
                chunks.append(chunk)
        if scope.cancelled_caught:
            raise RequestError(
                408, f"the request body did not arrive within {timeout:g} s; send it at once", close=True
            )
        body = b"".join(chunks)
        chunks.clear()
        yield body
    except ClientDisconnect as exc:
        raise RequestError(400, "the client closed the connection before the body ended") from exc
    finally:
        budget.give(held)
