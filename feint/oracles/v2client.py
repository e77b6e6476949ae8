"""A small client of the Open Inference Protocol (KServe v2) over HTTP, with retries and timeouts.

It speaks what Triton, KServe, Seldon MLServer and TorchServe serve: ``GET /v2/health/ready``,
``GET /v2/models/{name}`` (metadata) and ``POST /v2/models/{name}/infer``, in binary when the
server lists the ``binary_tensor_data`` extension at ``GET /v2``. Transient failures (connection
errors, timeouts, 429/502/503/504) are retried with exponential backoff; every other answer that
is not a valid reply is one :class:`~feint.errors.ModelError` naming the URL and the problem.
``rows_sent`` counts every input row put on the wire, retries included.

Every call is bounded, whatever the server does: one try gets ``timeout`` seconds for the whole
answer (``FEINT_HTTP_TIMEOUT``, default 30; a server that trickles bytes is cut off, its
connection closed), all tries of a call together ``timeout * (retries + 1)``; a ``Retry-After``
over :data:`MAX_RETRY_AFTER_S` ends the call at once; a reply over ``max_reply_bytes`` (64 MiB)
or nested too deeply to parse is refused.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from feint.env import seconds
from feint.errors import InputError, ModelError
from feint.oracles.v2protocol import HEADER, NestedTooDeep, ProtocolError, encode, split_body, tensor_array

URL_PATTERN = re.compile(
    r"^(?P<base>https?://[^/]+(?:/.*?)?)/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/?$"
)
TRANSIENT = (429, 502, 503, 504)
TIMEOUT_ENV = "FEINT_HTTP_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
MAX_RETRY_AFTER_S = 10.0
MAX_REPLY_BYTES = 64 * 2**20


def http_timeout() -> float:
    """Seconds one request may take in all: ``FEINT_HTTP_TIMEOUT``, else 30."""
    return seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)


class TooLarge(ModelError):
    """The server refused a request as too large (413); fewer rows per request may pass."""


class _Overtime(Exception):
    """One try did not bring a complete answer within its time."""


@dataclass(frozen=True)
class Reply:
    """A complete answer, read within the try's time and size limits."""

    status_code: int
    headers: Any
    content: bytes
    url: str
    reason_phrase: str

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def _retry_after(headers: Any) -> float:
    """Seconds a ``Retry-After`` header asks for (0 when absent or a date)."""
    value = str(headers.get("retry-after", "")).strip()
    return float(value) if value.isdigit() else 0.0


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
        self,
        url: str,
        *,
        timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        transport: Any = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.endpoint = Endpoint.parse(url)
        self.timeout = http_timeout() if timeout is None else float(timeout)
        self.retries, self.backoff, self.transport = retries, backoff, transport
        self.max_reply_bytes = max_reply_bytes
        self.http = self._client()
        self.rows_sent = 0
        self.requests = 0

    def _client(self) -> Any:
        import httpx

        limits = httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0))
        return httpx.Client(base_url=self.endpoint.base, timeout=limits, transport=self.transport)

    def close(self) -> None:
        self.http.close()

    def _read(self, method: str, path: str, kwargs: dict[str, Any]) -> Reply:
        """One request and its whole answer, refusing a body over ``max_reply_bytes`` as soon as it shows."""
        with self.http.stream(method, path, **kwargs) as reply:
            declared = str(reply.headers.get("content-length", ""))
            too_big = declared.isdigit() and int(declared) > self.max_reply_bytes
            body = bytearray()
            for chunk in () if too_big else reply.iter_bytes():
                body += chunk
                if len(body) > self.max_reply_bytes:
                    too_big = True
                    break
            if too_big:
                raise ModelError(
                    f"{method} {reply.request.url} answered more than {self.max_reply_bytes // 2**20} MiB; "
                    "feint refuses replies that large (is the URL a model endpoint?)"
                )
            return Reply(reply.status_code, reply.headers, bytes(body), str(reply.request.url), reply.reason_phrase)

    def _try(self, method: str, path: str, kwargs: dict[str, Any]) -> Reply:
        """:meth:`_read` within ``timeout`` seconds in all; past it the connection is closed under the reader."""
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append(self._read(method, path, kwargs))
            except BaseException as exc:  # handed to the caller's thread
                outcome.append(exc)

        reader = threading.Thread(target=work, name="feint-http", daemon=True)
        reader.start()
        reader.join(self.timeout)
        if not outcome:
            stuck, self.http = self.http, self._client()
            stuck.close()
            raise _Overtime(f"no complete answer within {self.timeout:g} s")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]  # type: ignore[no-any-return]

    def _send(self, method: str, path: str, *, rows: int = 0, **kwargs: Any) -> Reply:
        import httpx

        url = self.endpoint.base + path
        stop_at = time.monotonic() + self.timeout * (self.retries + 1)
        tries = 0
        for attempt in range(self.retries + 1):
            tries += 1
            wait = self.backoff * 2**attempt
            try:
                reply = self._try(method, path, kwargs)
            except httpx.ConnectError as exc:
                problem = f"cannot connect ({exc})"
            except (httpx.TransportError, _Overtime) as exc:  # timeouts, dropped connections: the rows were sent
                self.rows_sent += rows
                problem = f"{type(exc).__name__.lstrip('_')} ({exc})"
            else:
                self.rows_sent += rows
                self.requests += 1
                if reply.status_code not in TRANSIENT:
                    return reply
                problem = f"HTTP {reply.status_code}"
                asked = _retry_after(reply.headers)
                if asked > MAX_RETRY_AFTER_S:
                    raise ModelError(
                        f"{method} {url} answered HTTP {reply.status_code} with Retry-After: {asked:g} s, longer than "
                        f"feint waits ({MAX_RETRY_AFTER_S:g} s); try again when the server is back"
                    )
                wait = max(wait, asked)
            if attempt == self.retries or time.monotonic() + wait >= stop_at:
                break
            time.sleep(wait)
        raise ModelError(
            f"{method} {url} failed after {tries} tries: {problem}; check that the server is running "
            f"and the URL is right (each try may take {self.timeout:g} s: {TIMEOUT_ENV}=SECONDS raises it)"
        )

    def _json(self, reply: Reply, what: str) -> dict[str, Any]:
        return self._message(reply, what)[0]

    def _message(self, reply: Reply, what: str) -> tuple[dict[str, Any], bytes]:
        """The reply's JSON document and its binary tail (parsed once), or one clear ModelError."""
        url = reply.url
        if reply.status_code == 413:
            raise TooLarge(f"{url} refused the request as too large (413)")
        if reply.status_code >= 400:
            raise ModelError(f"{url} answered HTTP {reply.status_code}: {_server_message(reply)}")
        try:
            doc, blob = split_body(reply.content, reply.headers.get(HEADER))
        except NestedTooDeep:
            raise ModelError(f"{url} answered {what} nested too deeply to read; it is not a v2 model reply") from None
        except ProtocolError as exc:
            raise ModelError(
                f"{url} answered {what} that is not valid JSON; is it an Open Inference Protocol server?"
            ) from exc
        return doc, blob

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
        answer, blob = self._message(reply, "an inference reply")
        try:
            offset = 0
            for i, spec in enumerate(answer.get("outputs") or []):
                out, offset = tensor_array(spec, blob, offset, f"outputs[{i}]")
                if isinstance(spec, dict) and spec.get("name") == output:
                    break
            else:
                raise ProtocolError(f"it has no output named {output!r}")
        except ProtocolError as exc:
            raise ModelError(f"{self.endpoint.url} answered a malformed inference reply: {exc}") from exc
        except RecursionError:
            raise ModelError(f"{self.endpoint.url} answered an inference reply nested too deeply to read") from None
        if out.ndim == 0 or out.shape[0] != arr.shape[0]:
            raise ModelError(
                f"{self.endpoint.url} answered {out.shape[0] if out.ndim else 0} rows for {arr.shape[0]} inputs"
            )
        return out


def _server_message(reply: Reply) -> str:
    try:
        doc = reply.json()
        return str(doc.get("error", doc))[:300] if isinstance(doc, dict) else str(doc)[:300]
    except (ValueError, RecursionError):
        return " ".join(reply.text[:300].split()) or reply.reason_phrase
