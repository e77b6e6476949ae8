"""``feint serve`` against hostile and careless requests (issue 19, class 2): one real uvicorn server on
127.0.0.1 (a subprocess on a free port, started once for the module and always stopped) serving
:class:`helpers.TrapNet`, met by httpx, raw sockets and tritonclient. Each row of :data:`ROWS` asserts
the exact status and the phrase of the JSON error, or the documented valid answer. Every loop and
every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from helpers import TrapNet
from serving import feint_server, free_port, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]
HERE = Path(__file__).parent
INFER = "/v2/models/m/infer"
BODY_TIMEOUT = 2
X = np.linspace(0.05, 0.95, 64, dtype=np.float32).reshape(1, 1, 8, 8)
with torch.no_grad():
    WANT = TrapNet()(torch.from_numpy(X)).numpy()


def request(data: object = None, *, shape: object = (1, 1, 8, 8), datatype: str = "FP32", **doc: object) -> dict:
    """An inference request of one tensor ``input`` (``data`` defaults to :data:`X`)."""
    spec = {"name": "input", "shape": list(shape) if isinstance(shape, tuple) else shape, "datatype": datatype}
    spec["data"] = X.reshape(-1).tolist() if data is None else data
    return {"inputs": [spec], **doc}


def dumps(doc: object) -> bytes:
    return json.dumps(doc).encode()


def binary(extra: bytes = b"", *, size: int = 256, declared: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A binary request (Triton's extension): the JSON head, :data:`X`'s bytes, then ``extra``."""
    head = dumps({"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "parameters": {"binary_data_size": size}}]})  # fmt: skip
    length = str(len(head) if declared is None else declared)
    return head + X.astype("<f4").tobytes() + extra, {"Inference-Header-Content-Length": length}


def logits_of(reply: httpx.Response) -> np.ndarray:
    out = reply.json()["outputs"][0]
    assert out["name"] == "logits" and out["shape"] == [1, 10]
    return np.asarray(out["data"], dtype=np.float32).reshape(1, 10)


def answers_x(reply: httpx.Response) -> None:
    assert np.abs(logits_of(reply) - WANT).max() < 1e-5


def answers_binary(reply: httpx.Response) -> None:
    head = int(reply.headers["Inference-Header-Content-Length"])
    doc = json.loads(reply.content[:head])
    assert doc["outputs"][0]["parameters"]["binary_data_size"] == 40
    got = np.frombuffer(reply.content[head:], dtype="<f4").reshape(1, 10)
    assert np.abs(got - WANT).max() < 1e-5 and len(reply.content) == head + 40


def echoes_id(reply: httpx.Response) -> None:
    assert reply.json()["id"] == "req-7"
    answers_x(reply)


@dataclass(frozen=True)
class Row:
    """One request and its outcome: ``status`` and a phrase of the JSON error, or ``check`` of a 200."""

    id: str
    content: bytes
    status: int
    phrase: str = ""
    headers: dict[str, str | bytes] = field(default_factory=dict)  # bytes: not ASCII
    method: str = "POST"
    path: str = INFER
    check: Callable[[httpx.Response], None] | None = None


DATA = X.reshape(-1).tolist()
NESTED = X.reshape(1, 1, 8, 8).tolist()
TRAILING, TRAILING_HEADERS = binary(b"\x00" * 8)
SHORT, SHORT_HEADERS = binary(size=512)
VALID_BINARY, VALID_BINARY_HEADERS = binary()
HEAD = dumps(request())
DEEP = 100_000
ROWS = [
    # JSON the parser must refuse without a traceback (nesting, long integers, encodings)
    Row("deep-array", b"[" * DEEP + b"]" * DEEP, 400, "nested too deep"),
    Row("deep-object", b'{"a":' * DEEP + b"1" + b"}" * DEEP, 400, "nested too deep"),
    Row("deep-in-data", dumps(request())[:-3].replace(b'"data": [', b'"data": ' + b"[" * 5000) + b"]" * 5000 + b"}]}", 400, "nested too deep"),
    Row("int-5000-digits-id", b'{"id": ' + b"7" * 5000 + b', "inputs": []}', 400, "4300 digits"),
    Row("int-5000-digits-data", dumps(request([0])).replace(b"[0]", b"[" + b"9" * 5000 + b"]"), 400, "4300 digits"),
    Row("int-4000-digits-data", dumps(request([0] * 64)).replace(b"[0,", b"[" + b"9" * 4000 + b",", 1), 422, "not a list of FP32 numbers"),
    Row("int-5000-digits-shape", dumps(request()).replace(b"[1, 1, 8, 8]", b"[" + b"1" * 5000 + b", 1, 8, 8]"), 400, "4300 digits"),
    Row("not-json", b"{not json", 400, "not valid JSON"),
    Row("json-array", b"[1, 2]", 400, "must be a JSON object"),
    Row("not-utf8", b'{"inputs": "\xff\xfe"}', 400, "not valid JSON"),
    Row("empty-body", b"", 400, "not valid JSON"),
    # Inference-Header-Content-Length: ASCII digits within the body only
    Row("header-superscript-digit", HEAD, 400, "not a length within", {"Inference-Header-Content-Length": "²".encode()}),
    Row("header-arabic-indic-digits", HEAD, 400, "not a length within", {"Inference-Header-Content-Length": "١٢".encode()}),
    Row("header-negative", HEAD, 400, "Inference-Header-Content-Length is '-5'", {"Inference-Header-Content-Length": "-5"}),
    Row("header-20-digits", HEAD, 400, "not a length within", {"Inference-Header-Content-Length": "9" * 20}),
    Row("header-beyond-body", HEAD, 400, "not a length within", {"Inference-Header-Content-Length": "99999"}),
    Row("header-empty", HEAD, 400, "not a length within", {"Inference-Header-Content-Length": ""}),
    # the values of an FP32 tensor are JSON numbers, nothing else
    Row("strings-as-fp32", dumps(request(["0.5"] * 64)), 422, 'holds "0.5", which is not of datatype FP32'),
    Row("booleans-as-fp32", dumps(request([True] * 64)), 422, "holds true, which is not of datatype FP32"),
    Row("one-boolean-among-numbers", dumps(request([*DATA[:63], False])), 422, "holds false, which is not of datatype FP32"),
    Row("null-as-fp32", dumps(request([None] * 64)), 422, "holds null"),
    Row("object-as-fp32", dumps(request([{"v": 1}] * 64)), 422, 'holds {"v": 1}'),
    Row("data-a-string", dumps(request("0.5 " * 64)), 422, "must be a list of FP32 values, got str"),
    Row("data-ragged-nesting", dumps(request([DATA[:32], *DATA[32:]])), 422, "mixes lists and values"),
    Row("data-too-few", dumps(request(DATA[:10])), 422, "holds 10 values but shape"),
    Row("nan-literal", dumps(request([float("nan"), *DATA[1:]])), 422, "NaN or infinite values"),
    Row("overflow-to-inf", dumps(request([0.1] * 64)).replace(b"0.1", b"1e400", 1), 422, "NaN or infinite values"),
    Row("out-of-bounds", dumps(request([2.0] * 64)), 422, "outside the bounds"),
    Row("datatype-int64", dumps(request([0] * 64, datatype="INT64")), 422, "input datatype 'INT64' is not accepted"),
    Row("datatype-bytes", dumps(request(["a"] * 64, datatype="BYTES")), 422, "input datatype 'BYTES' is not accepted"),
    Row("shape-booleans", dumps(request(shape=[True, 1, 8, 8])), 422, "shape [True, 1, 8, 8]; give a list of non-negative integers"),
    Row("shape-negative", dumps(request(shape=[-1, 1, 8, 8])), 422, "shape [-1, 1, 8, 8]; give a list of non-negative integers"),
    Row("shape-zero-rows", dumps(request([], shape=[0, 1, 8, 8])), 422, "input shape"),
    Row("shape-wrong-image", dumps(request(shape=[1, 3, 8, 8])), 422, "does not fit; send [rows, 1, 8, 8]"),
    Row("too-many-rows", dumps(request([0], shape=[99999, 1, 8, 8])), 413, "99999 rows in one request"),
    Row("wrong-input-name", dumps({"inputs": [{**request()["inputs"][0], "name": "x"}]}), 422, "unknown input 'x'"),
    Row("two-inputs", dumps({"inputs": request()["inputs"] * 2}), 422, "exactly one tensor"),
    Row("inputs-missing", b'{"outputs": []}', 422, "exactly one tensor"),
    Row("unknown-output", dumps(request(outputs=[{"name": "secret"}])), 422, "unknown output 'secret'"),
    # binary bodies: every byte declared
    Row("binary-trailing-bytes", TRAILING, 400, "8 bytes after the JSON that no tensor declares", TRAILING_HEADERS),
    Row("json-then-junk", HEAD + b"junk", 400, "4 bytes after the JSON", {"Inference-Header-Content-Length": str(len(HEAD))}),
    Row("binary-size-mismatch", SHORT, 422, "binary_data_size=512", SHORT_HEADERS),
    Row("binary-without-header", VALID_BINARY, 400, "not valid JSON"),
    Row("binary-header-cuts-json", VALID_BINARY, 400, "not valid JSON", {"Inference-Header-Content-Length": "10"}),
    # binary_data_output and binary_data are JSON booleans: "false" is refused, not read as true
    Row("binary-output-string-false", dumps(request(parameters={"binary_data_output": "false"})), 422, 'binary_data_output is "false"; it must be true or false'),
    Row("binary-output-number", dumps(request(parameters={"binary_data_output": 1})), 422, "binary_data_output is 1"),
    Row("binary-data-string", dumps(request(outputs=[{"name": "logits", "parameters": {"binary_data": "true"}}])), 422, 'outputs[0].parameters.binary_data is "true"'),
    Row("parameters-a-list", dumps(request(parameters=[1])), 422, "parameters must be an object"),
    Row("id-a-number", dumps(request(id=7)), 422, "id must be a string"),
    Row("gzip-body", b"x" * 10, 400, "compressed bodies are not accepted", {"Content-Encoding": "gzip"}),
    # valid answers, as documented
    Row("valid-json", dumps(request()), 200, check=answers_x),
    Row("valid-nested-data", dumps(request(NESTED)), 200, check=answers_x),
    Row("valid-fp64", dumps(request(datatype="FP64")), 200, check=answers_x),
    Row("valid-binary-output-false", dumps(request(parameters={"binary_data_output": False})), 200, check=answers_x),
    Row("valid-binary-output-true", dumps(request(parameters={"binary_data_output": True})), 200, check=answers_binary),
    Row("valid-binary-body", VALID_BINARY, 200, "", VALID_BINARY_HEADERS, check=answers_x),
    Row("valid-id-echoed", dumps(request(id="req-7")), 200, check=echoes_id),
    # inputs that are valid requests but the model fails on: 422 for that request only
    Row("model-returns-nan", dumps(request([1.0] * 64)), 422, "NaN or infinite logits"),
    Row("model-raises", dumps(request([0.5] * 64)), 422, "trap: an input of all 0.5"),
    # routes
    Row("unknown-model", dumps(request()), 404, "no model 'nope'", path="/v2/models/nope/infer"),
    Row("unknown-version", dumps(request()), 404, "version 2", path="/v2/models/m/versions/2/infer"),
    Row("get-infer", b"", 405, "Method Not Allowed", method="GET"),
    Row("unknown-path", b"", 404, "Not Found", method="GET", path="/nothing/here"),
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen]]:
    args = ("--model", "helpers:trapnet", "--input-shape", "1,8,8", "--name", "m", "--body-timeout", str(BODY_TIMEOUT))
    with feint_server(*args, cwd=str(HERE)) as started:
        yield started


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=30) as http:
        yield http


def test_the_table_is_large() -> None:
    assert len(ROWS) >= 45 and len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_request(row: Row, client: httpx.Client, server) -> None:
    reply = client.request(row.method, row.path, content=row.content, headers=row.headers)
    assert reply.status_code == row.status, reply.text[:300]
    if row.check is not None:
        row.check(reply)
    else:
        error = reply.json()["error"]
        assert isinstance(error, str) and row.phrase in error, error
    assert server[1].poll() is None  # still serving


def _raw(base: str, head: bytes, body: bytes = b"", *, wait: float = 10) -> tuple[bytes, float, bool]:
    """Send ``head`` and ``body`` on a raw socket; (the reply, seconds until it came, whether the server
    then closed the connection within ``wait`` seconds)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        start = time.monotonic()
        sock.sendall(head + body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        took = time.monotonic() - start
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return reply, took, closed


def _head(length: int | str) -> bytes:
    return f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()


def test_a_body_that_stops_midway_times_out_and_frees_its_connection(server) -> None:
    reply, took, closed = _raw(server[0], _head(1000), b"0123456789")
    assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s" in reply
    assert BODY_TIMEOUT - 0.5 < took < BODY_TIMEOUT + 5 and closed


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(server) -> None:
    reply, took, _ = _raw(server[0], _head(60 * 2**20), wait=1)  # declares 60 MB, sends none of it
    assert reply.startswith(b"HTTP/1.1 413") and b"send at most" in reply and took < 2


def test_a_chunked_body_over_the_cap_is_refused_as_it_streams(client: httpx.Client) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 40 MB at most, far over the cap of 4,096 rows of 64 values as JSON
            sent.append(1)
            yield b" " * 2**20

    try:
        reply = client.post(INFER, content=chunks())
        assert reply.status_code == 413 and "the body exceeds" in reply.json()["error"]
    except httpx.TransportError:  # the server closed the connection while the client still sent
        pass
    assert len(sent) < 40


def test_a_bad_content_length_is_refused(server) -> None:
    reply, _, _ = _raw(server[0], _head("12abc"), b"{}")
    assert reply.startswith(b"HTTP/1.1 400")  # uvicorn's HTTP parser refuses it before the app


def test_large_bodies_share_a_budget_and_small_ones_never_wait(server, client: httpx.Client) -> None:
    """Two slow bodies of 8 MB hold the budget; a third is told to retry (503); small ones pass."""
    host, port = server[0].removeprefix("http://").split(":")
    held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(_head(8 * 2**20) + b"{")
        time.sleep(0.5)
        reply, _, _ = _raw(server[0], _head(8 * 2**20), wait=1)
        assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in reply.replace(b"retry-after", b"Retry-After")
        answers_x(client.post(INFER, content=dumps(request())))
    finally:
        for sock in held:
            sock.close()


def test_nan_input_fails_only_its_own_request(server) -> None:
    """Clients whose inputs make the model fail (NaN logits, or raising), batched with 150 valid
    requests from other clients: every valid request is answered correctly, every trap gets 422."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 0.9, size=(150, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = TrapNet()(torch.from_numpy(xs)).numpy()
    traps = [[1.0] * 64, [0.5] * 64] * 25

    async def crowd() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=server[0], timeout=60, limits=httpx.Limits(max_connections=200)) as http:
            valid = [http.post(INFER, content=dumps(request(x.reshape(-1).tolist()))) for x in xs]
            bad = [http.post(INFER, content=dumps(request(t))) for t in traps]
            replies = await asyncio.wait_for(asyncio.gather(*valid, *bad), timeout=120)
        return list(replies[: len(xs)]), list(replies[len(xs) :])

    valid, bad = asyncio.run(crowd())
    assert all(r.status_code == 200 for r in valid), [r.text for r in valid if r.status_code != 200][:3]
    got = np.stack([logits_of(r)[0] for r in valid])
    assert np.abs(got - want).max() < 1e-4
    assert all(r.status_code == 422 for r in bad)


def test_tritonclient_is_answered(server) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server[0].removeprefix("http://"))
    for binary_data in (True, False):
        item = triton.InferInput("input", [1, 1, 8, 8], "FP32")
        item.set_data_from_numpy(X, binary_data=binary_data)
        out = triton.InferRequestedOutput("logits", binary_data=binary_data)
        assert np.abs(client.infer("m", [item], outputs=[out]).as_numpy("logits") - WANT).max() < 1e-5


def test_a_proxied_server_that_goes_down_is_a_502(server) -> None:
    upstream = subprocess.Popen(
        [sys.executable, "-m", "feint", "serve", "--model", "helpers:trapnet", "--input-shape", "1,8,8",
         "--name", "up", "--port", str(port := free_port())],
        cwd=HERE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", upstream)
        with feint_server("--model", f"http://127.0.0.1:{port}/v2/models/up", "--name", "proxy") as (base, _):
            url = base + "/v2/models/proxy/infer"
            answers_x(httpx.post(url, content=dumps(request()), timeout=30))
            upstream.terminate()
            upstream.wait(timeout=30)
            reply = httpx.post(url, content=dumps(request()), timeout=60)
            assert reply.status_code == 502 and "the model server behind this one failed" in reply.json()["error"]
    finally:
        upstream.kill()
        upstream.wait(timeout=30)


def _endless_loop_onnx(path: Path) -> None:
    """A digits-shaped ONNX classifier whose graph starts with a Loop of 2**63 - 1 identity steps."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    value = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body",
        [
            value("i", TensorProto.INT64, []),
            value("cond_in", TensorProto.BOOL, []),
            value("v_in", TensorProto.FLOAT, None),
        ],
        [value("cond_out", TensorProto.BOOL, []), value("v_out", TensorProto.FLOAT, None)],
    )
    constants = [
        numpy_helper.from_array(np.ones((64, 10), np.float32), "w"),
        numpy_helper.from_array(np.array(2**63 - 1, np.int64), "m"),
        numpy_helper.from_array(np.array(True), "c"),
        numpy_helper.from_array(np.array([-1, 64], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Loop", ["m", "c", "input"], ["looped"], body=body),
        helper.make_node("Reshape", ["looped", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "endless", [value("input", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [value("logits", TensorProto.FLOAT, ["n", 10])], constants,
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_a_model_whose_probe_never_ends_is_one_line_at_start_up(tmp_path: Path) -> None:
    _endless_loop_onnx(tmp_path / "loop.onnx")
    cmd = [sys.executable, "-m", "feint", "serve", "--model", str(tmp_path / "loop.onnx"), "--probe-timeout", "2"]
    start = time.monotonic()
    done = subprocess.run([*cmd, "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    err = done.stderr.strip()
    assert done.returncode == 2 and err.count("\n") == 0, err
    assert err.startswith("error: ") and "did not finish within 2 s" in err and "--probe-timeout" in err
    assert time.monotonic() - start < 60
