"""``feint serve``'s application: the Open Inference Protocol (KServe v2) over FastAPI.

Routes: ``GET /v2`` (server metadata, with the ``binary_tensor_data`` extension),
``GET /v2/health/live|ready``, ``GET /v2/models/{name}[/versions/{v}]`` (metadata),
``GET .../ready``, ``POST .../infer`` and ``GET .../stats`` (rows answered, in total and per
client: the ``X-Feint-Client`` header when sent, else the client's address). Every refused
request gets a JSON ``{"error": ...}`` with a 4xx status (400, 404, 405, 408, 413, 422), or
502 when a proxied model server fails and 503 (with ``Retry-After``) while the server reads
other large bodies; never a 500 for anything a request sends. Bodies are read within bounds
(:mod:`feint.server.bodies`); requests that arrive while the model is busy are answered together
by one model call (:mod:`feint.server.batching`), and an input the model fails on (NaN or
infinite scores included) fails only its own request (422). With a detector in front (:mod:`feint.server.guard`),
flagged inputs are answered with a flag (their own answer withheld or marked) and counted in the
stats.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from feint.errors import FeintError
from feint.memory import release_freed_memory
from feint.oracles.v2protocol import HEADER, encode
from feint.server.batching import Batcher, SharedFailure
from feint.server.bodies import BUDGET_CAPS, SMALL, BodyBudget, read_body
from feint.server.guard import FLAG_OUTPUT
from feint.server.requests import Limits, Parsed, RequestError, parse_request
from feint.server.served import Served
from feint.version import __version__

INPUT_NAME = "input"


@dataclass
class QueryLog:
    """Rows answered: in total, per client, and the number of requests; rows the detector flagged."""

    rows: int = 0
    requests: int = 0
    refused: int = 0
    clients: Counter[str] = field(default_factory=Counter)
    flagged: int = 0
    flagged_requests: int = 0
    flagged_clients: Counter[str] = field(default_factory=Counter)

    def count(self, client: str, rows: int, flags: np.ndarray | None) -> None:
        self.rows += rows
        self.requests += 1
        self.clients[client] += rows
        flagged = int(flags.sum()) if flags is not None else 0
        if flagged:
            self.flagged += flagged
            self.flagged_requests += 1
            self.flagged_clients[client] += flagged

    def to_dict(self) -> dict[str, Any]:
        return {
            "queries": self.rows, "requests": self.requests, "refused": self.refused, "clients": dict(self.clients),
            "flagged": self.flagged, "flagged_requests": self.flagged_requests,
            "flagged_clients": dict(self.flagged_clients),
        }  # fmt: skip


def _error(status: int, message: str, *, retry_after: int | None = None, close: bool = False) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if close:
        headers["Connection"] = "close"
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def metadata(served: Served) -> dict[str, Any]:
    out_shape = [-1] if served.output == "label" else [-1, served.num_classes]
    outputs = [{"name": served.output_name, "datatype": served.output_datatype, "shape": out_shape}]
    if served.guard is not None:
        outputs.append({"name": FLAG_OUTPUT, "datatype": "BOOL", "shape": [-1]})
    return {
        "name": served.name,
        "versions": ["1"],
        "platform": f"feint-{served.loaded.source}",
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, *served.input_shape]}],
        "outputs": outputs,
    }


@dataclass
class IdleTrim:
    """Collects garbage and gives the heap's free pages back (:func:`~feint.memory.release_freed_memory`) once
    no request is being answered, at most once a second: after a crowd of clients, parsed bodies and
    batches leave pages free but resident, and the server's RSS would stay at its peak."""

    busy: int = 0
    last: float = 0.0

    async def trim(self) -> None:
        if self.busy == 0 and time.monotonic() - self.last > 1.0:
            self.last = time.monotonic()
            await anyio.to_thread.run_sync(_collect_and_release)


def _collect_and_release() -> None:
    gc.collect()  # refused requests leave cycles (exceptions, frames) that hold their parsed bodies
    release_freed_memory()


def create_app(served: Served, *, limits: Limits | None = None) -> FastAPI:
    """The FastAPI app serving ``served`` under ``/v2/models/{served.name}``."""
    limits = limits or Limits()
    app = FastAPI(title="feint serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    log = QueryLog()
    app.state.log = log
    batcher = Batcher(served.respond, max_rows=limits.max_rows)
    guard = served.guard
    idle = IdleTrim()
    cap = limits.body_cap(served.input_shape)
    budget = BodyBudget(BUDGET_CAPS * cap)

    def parse(body: bytes, header: str | None) -> Parsed:
        try:
            return parse_request(
                body,
                header,
                input_name=INPUT_NAME,
                input_shape=served.input_shape,
                outputs=served.output_names,
                bounds=served.bounds,
                limits=limits,
            )
        except RequestError as exc:  # a fresh error: the traceback would keep the parsed document alive
            failure = RequestError(exc.status, str(exc))
        raise failure

    async def read(request: Request) -> Parsed:
        if request.headers.get("content-encoding", "identity") != "identity":
            raise RequestError(400, "compressed bodies are not accepted; send the request uncompressed")
        header = request.headers.get(HEADER)
        async with read_body(request, cap=cap, timeout=limits.body_timeout, budget=budget) as body:
            if len(body) <= SMALL:
                return parse(body, header)
            try:  # a large body is parsed beside the event loop, which keeps answering the others
                parsed = await anyio.to_thread.run_sync(parse, body, header)
            finally:
                del body
        release_freed_memory()  # parsing a large JSON body made millions of objects; give their pages back
        return parsed

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"the model failed: {type(exc).__name__}: {str(exc)[:200]}")

    def check_name(name: str, version: str | None = None) -> None:
        if name != served.name or version not in (None, "1"):
            raise HTTPException(404, f"no model {name!r} (version {version or 'any'}); this server has {served.name!r}")

    @app.get("/v2")
    async def server_metadata() -> dict[str, Any]:
        return {"name": "feint", "version": __version__, "extensions": ["binary_tensor_data", "statistics"]}

    @app.get("/v2/health/live")
    @app.get("/v2/health/ready")
    async def health() -> dict[str, Any]:
        return {}

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None) -> dict[str, Any]:
        check_name(name, version)
        return metadata(served)

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None) -> dict[str, Any]:
        check_name(name, version)
        return {}

    @app.get("/v2/models/{name}/stats")
    async def stats(name: str) -> dict[str, Any]:
        check_name(name)
        return {"name": served.name, "detector": guard.describe() if guard else None, **log.to_dict()}

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        idle.busy += 1
        try:
            response = await respond(name, request, version)
        finally:
            idle.busy -= 1
        response.background = BackgroundTask(idle.trim)
        return response

    async def respond(name: str, request: Request, version: str | None) -> Response:
        check_name(name, version)
        try:
            parsed = await read(request)
        except RequestError as exc:
            log.refused += 1
            return _error(exc.status, str(exc), retry_after=exc.retry_after, close=exc.close)
        try:
            answer, flags = await batcher.submit(parsed.x)
        except SharedFailure as exc:
            log.refused += 1
            return _error(502, f"the model server behind this one failed: {exc}")
        except Exception as exc:  # the model failed on this request's inputs alone (the batcher made sure)
            log.refused += 1
            detail = str(exc) if isinstance(exc, FeintError) else f"{type(exc).__name__}: {exc}"
            return _error(422, f"the model cannot answer this request's inputs: {detail[:300]}")
        assert answer is not None
        client = request.headers.get("x-feint-client") or (request.client.host if request.client else "unknown")
        log.count(client, int(parsed.x.shape[0]), flags)
        if guard is not None and guard.refuses and flags is not None and flags.any():
            answer = guard.withhold(answer, flags, served.output)
        doc: dict[str, Any] = {"model_name": served.name, "model_version": "1"}
        if parsed.request_id is not None:
            doc["id"] = parsed.request_id
        tensors = [(served.output_name, answer), (FLAG_OUTPUT, flags)]
        wanted = parsed.outputs or served.output_names
        sent = [(name, arr) for name, arr in tensors if name in wanted and arr is not None]
        content, headers = encode(doc, "outputs", sent, binary=parsed.binary)
        media = headers.pop("Content-Type")
        return Response(content, headers=headers, media_type=media)

    return app
