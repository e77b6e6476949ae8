"""A small client of the Open Inference Protocol (KServe v2) over HTTP, with retries and timeouts.

It speaks what Triton, KServe, Seldon MLServer and TorchServe serve: ``GET /v2/health/ready``,
``GET /v2/models/{name}`` (metadata) and ``POST /v2/models/{name}/infer``, in binary when the
server lists the ``binary_tensor_data`` extension at ``GET /v2``. Transient failures (connection
errors, timeouts, 429/502/503/504) are retried with exponential backoff; every other answer that
is not a valid reply is one :class:`~feint.errors.ModelError` naming the URL and the problem.
``rows_sent`` counts every input row put on the wire, retries included.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from feint.errors import InputError, ModelError
from feint.oracles.v2protocol import HEADER, ProtocolError, encode, split_body, tensor_array

URL_PATTERN = re.compile(
    r"^(?P<base>https?://[^/]+(?:/.*?)?)/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/?$"
)
TRANSIENT = (429, 502, 503, 504)


class TooLarge(ModelError):
    """The server refused a request as too large (413); fewer rows per request may pass."""


@dataclass(frozen=True)
class Endpoint:
    """Where a model is served: ``base`` (scheme://host:port[/prefix]), model ``name`` and ``version``."""

    base: str
    name: str
    version: str | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        match = URL_PATTERN.match(url)
        if match is None:
            raise InputError(
                f"{url!r} is not a model URL of the Open Inference Protocol; "
                "use http(s)://host:port/v2/models/NAME (e.g. http://127.0.0.1:8080/v2/models/lenet)"
            )
        return cls(match["base"], match["name"], match["version"])

    @property
    def model_path(self) -> str:
        return f"/v2/models/{self.name}" + (f"/versions/{self.version}" if self.version else "")

    @property
    def url(self) -> str:
        return self.base + self.model_path


class V2Client:
    """Blocking HTTP client of one served model (``timeout`` seconds per request, ``retries`` extra
    tries); ``transport`` is any httpx transport (a proxy, a test double)."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.2, transport: Any = None
    ) -> None:
        import httpx

        self.endpoint = Endpoint.parse(url)
        self.retries, self.backoff = retries, backoff
        limits = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.http = httpx.Client(base_url=self.endpoint.base, timeout=limits, transport=transport)
        self.rows_sent = 0
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, *, rows: int = 0, **kwargs: Any) -> Any:
        import httpx

        url = self.endpoint.base + path
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                reply = self.http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:
                problem = f"cannot connect ({exc})"
            except httpx.TransportError as exc:  # timeouts, dropped connections: the rows were sent
                self.rows_sent += rows
                problem = f"{type(exc).__name__} ({exc})"
            else:
                self.rows_sent += rows
                self.requests += 1
                if reply.status_code not in TRANSIENT:
                    return reply
                problem = f"HTTP {reply.status_code}"
                wait = max(
                    wait,
                    float(reply.headers.get("retry-after", "0") or 0)
                    if reply.headers.get("retry-after", "").isdigit()
                    else 0,
                )
            if attempt < self.retries:
                time.sleep(wait)
        raise ModelError(
            f"{method} {url} failed after {self.retries + 1} tries: {problem}; check that the server is running "
            "and the URL is right"
        )

    def _json(self, reply: Any, what: str) -> dict[str, Any]:
        url = str(reply.request.url)
        if reply.status_code == 413:
            raise TooLarge(f"{url} refused the request as too large (413)")
        if reply.status_code >= 400:
            raise ModelError(f"{url} answered HTTP {reply.status_code}: {_server_message(reply)}")
        try:
            doc, _ = split_body(reply.content, reply.headers.get(HEADER))
        except ProtocolError as exc:
            raise ModelError(
                f"{url} answered {what} that is not valid JSON; is it an Open Inference Protocol server?"
            ) from exc
        return doc

    def server_extensions(self) -> list[str]:
        reply = self._send("GET", "/v2")
        if reply.status_code != 200:
            return []
        try:
            doc = self._json(reply, "server metadata")
        except ModelError:
            return []
        ext = doc.get("extensions")
        return [str(e) for e in ext] if isinstance(ext, list) else []

    def metadata(self) -> dict[str, Any]:
        """Check readiness and return the model metadata (inputs and outputs with shape and datatype)."""
        ready = self._send("GET", "/v2/health/ready")
        if ready.status_code == 404:
            raise ModelError(
                f"{self.endpoint.base} has no /v2/health/ready: it does not speak the Open Inference Protocol (v2)"
            )
        if ready.status_code != 200:
            raise ModelError(f"{self.endpoint.base} is not ready (GET /v2/health/ready answered {ready.status_code})")
        reply = self._send("GET", self.endpoint.model_path)
        if reply.status_code == 404:
            raise ModelError(
                f"{self.endpoint.url} does not exist on the server: {_server_message(reply)}; check the model name"
            )
        doc = self._json(reply, "model metadata")
        if not isinstance(doc.get("inputs"), list) or not isinstance(doc.get("outputs"), list):
            raise ModelError(
                f"{self.endpoint.url} answered metadata without inputs and outputs; it is not a v2 model endpoint"
            )
        return doc

    def infer(self, name: str, arr: np.ndarray, output: str, *, binary: bool) -> np.ndarray:
        """Send ``arr`` as input ``name``; return the output ``output`` (its first dimension is checked)."""
        doc = {"outputs": [{"name": output, "parameters": {"binary_data": binary}}]}
        body, headers = encode(doc, "inputs", [(name, arr)], binary=binary)
        reply = self._send(
            "POST", self.endpoint.model_path + "/infer", rows=int(arr.shape[0]), content=body, headers=headers
        )
        answer = self._json(reply, "an inference reply")
        try:
            _, blob = split_body(reply.content, reply.headers.get(HEADER))
            offset = 0
            for i, spec in enumerate(answer.get("outputs") or []):
                out, offset = tensor_array(spec, blob, offset, f"outputs[{i}]")
                if isinstance(spec, dict) and spec.get("name") == output:
                    break
            else:
                raise ProtocolError(f"it has no output named {output!r}")
        except ProtocolError as exc:
            raise ModelError(f"{self.endpoint.url} answered a malformed inference reply: {exc}") from exc
        if out.ndim == 0 or out.shape[0] != arr.shape[0]:
            raise ModelError(
                f"{self.endpoint.url} answered {out.shape[0] if out.ndim else 0} rows for {arr.shape[0]} inputs"
            )
        return out


def _server_message(reply: Any) -> str:
    try:
        doc = reply.json()
        return str(doc.get("error", doc))[:300] if isinstance(doc, dict) else str(doc)[:300]
    except ValueError:
        return reply.text[:300] or reply.reason_phrase
