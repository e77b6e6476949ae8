"""``feint serve`` as a real subprocess on 127.0.0.1: tritonclient, HopSkipJump over HTTP, a corpus of
malformed requests, 200 concurrent clients, SIGTERM. Every loop is bounded; the server is always stopped."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from serving import feint_server, free_port

from feint.attacks import hopskipjump
from feint.cli import main
from feint.models import resolve, save_model

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def run_dir(lenet_digits, digits_train, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("served") / "lenet"
    save_model(lenet_digits, out, arch="lenet", data=digits_train.info.to_dict())
    return out


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    with feint_server("--model", str(run_dir), "--name", "lenet") as started:
        yield started


def _stats(base: str) -> dict:
    return httpx.get(base + "/v2/models/lenet/stats").json()


def test_tritonclient_gets_correct_answers(server, lenet_digits, digits_test) -> None:
    import tritonclient.http as triton

    base, _ = server
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    assert client.is_server_ready() and client.is_model_ready("lenet")
    meta = client.get_model_metadata("lenet")
    assert meta["inputs"][0]["shape"] == [-1, 1, 8, 8] and meta["outputs"][0]["shape"] == [-1, 10]
    x = digits_test.x[:16].numpy()
    with torch.no_grad():
        want = lenet_digits(torch.from_numpy(x)).numpy()
    for binary in (True, False):
        item = triton.InferInput("input", list(x.shape), "FP32")
        item.set_data_from_numpy(x, binary_data=binary)
        out = triton.InferRequestedOutput("logits", binary_data=binary)
        got = client.infer("lenet", [item], outputs=[out]).as_numpy("logits")
        assert np.abs(got - want).max() < 1e-5


def test_hopskipjump_over_http_equals_in_process(server, run_dir, digits_test) -> None:
    base, _ = server
    x, y = digits_test.x[:12], digits_test.y[:12]
    remote = resolve(f"{base}/v2/models/lenet")
    assert remote.access == "scores" and remote.module is None
    before = _stats(base)["queries"]
    over_http = hopskipjump(remote.target, x, y, max_queries=150, seed=3)
    served = _stats(base)["queries"] - before
    local = hopskipjump(resolve(run_dir).target, x, y, max_queries=150, seed=3)
    assert torch.equal(over_http.x_adv, local.x_adv) and torch.equal(over_http.success, local.success)
    assert over_http.queries == local.queries == served  # the server counted exactly the attack's rows


MALFORMED = [
    ("POST", "/v2/models/lenet/infer", b"{not json", {}, 400),
    ("POST", "/v2/models/lenet/infer", b"[1, 2]", {}, 400),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": []}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "x", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": []}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "BYTES", "data": ["a"]}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [0]}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [0, 1]}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": ' + json.dumps([float("nan")] + [0.0] * 63).encode() + b"}]}", {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": ' + json.dumps([7.0] * 64).encode() + b"}]}", {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": ' + json.dumps(["x"] * 64).encode() + b"}]}", {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": ' + json.dumps([0.0] * 64).encode() + b'}], "outputs": [{"name": "secret"}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [99999, 1, 8, 8], "datatype": "FP32", "data": [0]}]}', {}, 413),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "parameters": {"binary_data_size": 256}}]}', {"Inference-Header-Content-Length": "9999"}, 400),
    ("POST", "/v2/models/lenet/infer", b'{"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "parameters": {"binary_data_size": 256}}]}', {}, 422),
    ("POST", "/v2/models/lenet/infer", b"x" * 10, {"Content-Encoding": "gzip"}, 400),
    ("POST", "/v2/models/nope/infer", b"{}", {}, 404),
    ("GET", "/v2/models/lenet/infer", b"", {}, 405),
    ("GET", "/v2/models/nope", b"", {}, 404),
    ("GET", "/nothing/here", b"", {}, 404),
]  # fmt: skip


def test_malformed_requests_get_4xx_json(server) -> None:
    base, proc = server
    with httpx.Client(base_url=base, timeout=30) as client:
        for method, path, body, headers, status in MALFORMED:
            reply = client.request(method, path, content=body, headers=headers)
            assert reply.status_code == status, (path, body[:80], reply.text)
            assert isinstance(reply.json().get("error"), str) and reply.json()["error"]
        big = client.post("/v2/models/lenet/infer", content=b" " * (65 * 2**20))
        assert big.status_code == 413
    assert proc.poll() is None  # still serving


def test_200_concurrent_clients_get_correct_answers_in_bounded_memory(server, lenet_digits, digits_test) -> None:
    base, proc = server
    x = digits_test.x[:200]
    with torch.no_grad():
        want = lenet_digits(x).argmax(1)
    body = [
        json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": x[i].flatten().tolist()}]})
        for i in range(200)
    ]  # fmt: skip
    before = _rss_mb(proc.pid)

    async def one(client: httpx.AsyncClient, i: int) -> list[bool]:
        answers = []
        for _ in range(3):  # bounded: three requests per client
            reply = await client.post(
                f"{base}/v2/models/lenet/infer", content=body[i], headers={"X-Feint-Client": f"c{i}"}
            )
            logits = reply.json()["outputs"][0]["data"]
            answers.append(int(np.argmax(logits)) == int(want[i]))
        return answers

    async def crowd() -> list[list[bool]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            return await asyncio.wait_for(asyncio.gather(*(one(client, i) for i in range(200))), timeout=300)

    results = asyncio.run(crowd())
    assert all(all(r) for r in results)
    stats = _stats(base)
    assert all(stats["clients"][f"c{i}"] == 3 for i in range(200))  # per-client counts
    assert _rss_mb(proc.pid) - before < 150  # memory stays bounded


def test_startup_failures_are_one_line(run_dir, tmp_path) -> None:
    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = runner.invoke(main, ["serve", "--model", str(run_dir), "--port", str(port)])
    assert res.exit_code == 2 and "is in use" in res.output and res.output.count("\n") == 1
    res = runner.invoke(main, ["serve", "--model", str(tmp_path / "missing"), "--port", str(free_port())])
    assert res.exit_code == 2 and res.output.startswith("error: no model directory at")
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    res = runner.invoke(main, ["serve", "--model", str(tmp_path / "bad.onnx"), "--port", str(free_port())])
    assert res.exit_code == 2 and "not a readable ONNX model" in res.output


def test_attack_command_over_http(server) -> None:
    base, _ = server
    before = _stats(base)["queries"]
    url = f"{base}/v2/models/lenet"
    args = ["attack", "--model", url, "--data", "digits", "--attack", "hopskipjump", "--eps", "0.3"]
    res = CliRunner().invoke(main, [*args, "--norm", "inf", "--queries-per-input", "200", "--n-inputs", "10"])
    assert res.exit_code == 0, res.output
    sent = int(res.output.split("rows sent to the server (attack, clean check and retries):")[1].split()[0])
    assert sent == _stats(base)["queries"] - before


def test_fool_command_over_http(server, lenet_digits, tmp_path) -> None:
    """Evolution needs only scores: fooling images for a model behind the Open Inference Protocol."""
    base, _ = server
    before = _stats(base)["queries"]
    out = tmp_path / "fool"
    args = ["fool", "--model", f"{base}/v2/models/lenet", "--generations", "30", "--population", "20"]
    res = CliRunner().invoke(main, [*args, "--max-queries", "700", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    sent = int(res.output.split("rows sent to the server (search, final check and retries):")[1].split()[0])
    assert sent == _stats(base)["queries"] - before and sent == 20 * 31 + 10
    saved = np.load(out / "fooling.npz")
    with torch.no_grad():
        probs = lenet_digits(torch.from_numpy(saved["x"])).softmax(1).numpy()
    assert np.allclose(probs[np.arange(10), saved["target"]], saved["confidence"], atol=1e-4)
    assert float(np.median(saved["confidence"])) > 0.9
