"""The Open Inference Protocol client oracle against scripted servers: retries, timeouts, bad replies."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import numpy as np
import pytest
import torch

from feint.errors import InputError, ModelError
from feint.oracles import LabelOracle, ScoreOracle
from feint.oracles.http import http_oracle

URL = "http://model.test/v2/models/m"
META = {
    "name": "m",
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}],
    "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
}


def _server(infer: Callable[[dict], httpx.Response], meta: dict | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/health/ready":
            return httpx.Response(200, json={})
        if request.url.path == "/v2":
            return httpx.Response(200, json={"extensions": []})
        if request.url.path == "/v2/models/m":
            return httpx.Response(200, json=meta or META)
        if request.url.path == "/v2/models/m/infer":
            return infer(json.loads(request.content))
        return httpx.Response(404, json={"error": "not found"})

    return httpx.MockTransport(handle)


def _answer(doc: dict, rows: int | None = None) -> httpx.Response:
    n = doc["inputs"][0]["shape"][0] if rows is None else rows
    x = np.asarray(doc["inputs"][0]["data"], dtype=np.float32).reshape(doc["inputs"][0]["shape"])
    assert x.shape[1] == 64  # NCHW images were flattened to the metadata's (-1, 64)
    probs = np.full((n, 3), 0.25, dtype=np.float32)
    probs[:, 0] = 0.5
    return httpx.Response(
        200,
        json={
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [n, 3], "data": probs.ravel().tolist()}]
        },
    )


def test_metadata_reshapes_and_picks_the_score_output() -> None:
    oracle = http_oracle(URL, transport=_server(_answer), batch_size=4)
    assert isinstance(oracle, ScoreOracle) and oracle.output == "probabilities" and oracle.num_classes == 3
    assert oracle.scores(torch.rand(10, 1, 8, 8)).shape == (10, 3)
    assert oracle.queries == 10 and oracle.rows_sent == 10  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="does not fit images of shape"):
        oracle.scores(torch.rand(2, 1, 4, 4))  # shape mismatch against the metadata


def test_label_output_gives_a_label_oracle() -> None:
    meta = {**META, "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}]}

    def infer(doc: dict) -> httpx.Response:
        n = doc["inputs"][0]["shape"][0]
        return httpx.Response(
            200, json={"outputs": [{"name": "label", "datatype": "INT64", "shape": [n], "data": [2] * n}]}
        )

    oracle = http_oracle(URL, transport=_server(infer, meta))
    assert isinstance(oracle, LabelOracle) and not isinstance(oracle, ScoreOracle)
    assert oracle.labels(torch.rand(3, 1, 8, 8)).tolist() == [2, 2, 2]
    with pytest.raises(InputError, match="answers only labels"):
        http_oracle(URL, transport=_server(infer, meta), access="scores")


def test_transient_failures_are_retried_and_rows_sent_counted() -> None:
    calls = []

    def flaky(doc: dict) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json={"error": "busy"}) if len(calls) < 3 else _answer(doc)

    oracle = http_oracle(URL, transport=_server(flaky), backoff=0.001)
    oracle.scores(torch.rand(4, 1, 8, 8))  # type: ignore[attr-defined]
    assert len(calls) == 3 and oracle.queries == 4 and oracle.rows_sent == 12  # type: ignore[attr-defined]
    down = http_oracle(URL, transport=_server(lambda d: httpx.Response(503)), retries=2, backoff=0.001)
    with pytest.raises(ModelError, match="failed after 3 tries: HTTP 503"):
        down.scores(torch.rand(1, 1, 8, 8))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (lambda d: httpx.Response(200, content=b"{not json"), "not valid JSON"),
        (lambda d: _answer(d, rows=1), "answered 1 rows for 4 inputs"),
        (lambda d: httpx.Response(200, json={"outputs": [{"name": "other", "datatype": "FP32", "shape": [4, 3], "data": [0.0] * 12}]}), "no output named"),
        (lambda d: httpx.Response(400, json={"error": "bad shape"}), "HTTP 400: bad shape"),
        (lambda d: httpx.Response(500, json={"error": "boom"}), "HTTP 500: boom"),
        (lambda d: httpx.Response(200, json={"outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [4, 3], "data": [0.0] * 5}]}), "holds 5 values"),
    ],
)  # fmt: skip
def test_bad_replies_get_one_clear_error(reply: Callable[[dict], httpx.Response], match: str) -> None:
    oracle = http_oracle(URL, transport=_server(reply), retries=0)
    with pytest.raises(ModelError, match=match):
        oracle.scores(torch.rand(4, 1, 8, 8))  # type: ignore[attr-defined]


def test_unreachable_and_non_v2_servers() -> None:
    with pytest.raises(ModelError, match="cannot connect"):
        http_oracle("http://127.0.0.1:9/v2/models/m", retries=1, backoff=0.001)
    not_v2 = httpx.MockTransport(lambda r: httpx.Response(404, text="<html>nope</html>"))
    with pytest.raises(ModelError, match="does not speak the Open Inference Protocol"):
        http_oracle(URL, transport=not_v2)
    with pytest.raises(InputError, match="not a model URL"):
        http_oracle("http://127.0.0.1:8080/models/m")
    two = {**META, "inputs": META["inputs"] * 2}
    with pytest.raises(ModelError, match="takes 2 inputs"):
        http_oracle(URL, transport=_server(_answer, two))


def test_timeouts_are_retried_then_reported() -> None:
    def slow(doc: dict) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    oracle = http_oracle(URL, transport=_server(slow), retries=1, backoff=0.001, timeout=0.5)
    with pytest.raises(ModelError, match="failed after 2 tries: ReadTimeout"):
        oracle.scores(torch.rand(3, 1, 8, 8))  # type: ignore[attr-defined]
    assert oracle.rows_sent == 6  # type: ignore[attr-defined]  # both tries reached the wire
