"""Load test: ``feint serve`` on 127.0.0.1 under 200 concurrent clients sending valid and hostile requests.

A digits LeNet (trained for two epochs here) is served by a real ``feint serve`` subprocess with
``--body-timeout 2``. 200 clients each send ``--requests`` requests at once: most are valid (1-8
rows, JSON or binary tensors), the rest hostile (JSON nested 100,000 deep, a 5,000-digit integer,
strings or booleans as FP32, undeclared trailing bytes, ``binary_data_output: "false"``, values
out of bounds, 60 MB declared and never sent, a body that stops after 10 bytes, 2 MB of strings
as FP32). Everything is bounded: the request count, a deadline for the whole run, and the server
is always stopped. It asserts that every valid request got the model's own answer and every
hostile one its 4xx, and prints the p50/p99 latency of the valid requests, the server's peak RSS
(sampled every 20 ms) and its RSS before (after a warm-up) and after, which must be within 10%.

    python benchmarks/serve_load.py [--clients 200] [--requests 6] [--seed 0]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

**`feint serve` under hostile load** (`python benchmarks/serve_load.py --clients 200 --requests 6`,
a digits LeNet, server and clients on the same 2 shared CPU cores): 200 concurrent clients sent
882 valid requests (1-8 rows, JSON or binary) and 318 hostile ones (JSON 100,000 deep, a
5,000-digit integer, strings or booleans as FP32, trailing bytes, `binary_data_output: "false"`,
out of bounds, 2 MB of strings, 60 MB declared and never sent, a body that stops after 10 bytes):
all 882 answered with the model's own logits, all 318 refused with their 4xx. Valid-request
latency p50 1.3 s, p99 10.5 s (the same run with no hostile requests: p50 1.8-2.7 s, p99
12.7-15.6 s, so the latency is the crowd's on two cores, not the hostile requests'); server RSS
374 MB after warm-up, peak 452 MB, 398 MB afterwards (+6.4%; target within 10%, met).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch

from feint.data import load
from feint.models import resolve
from feint.training import train

DEADLINE_S = 600
NAME = "lenet"
INFER = f"/v2/models/{NAME}/infer"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakRss(threading.Thread):
    """Samples a process's RSS every 20 ms until stopped; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tensor_body(x: np.ndarray, *, binary: bool) -> tuple[bytes, dict[str, str]]:
    spec: dict = {"name": "input", "shape": list(x.shape), "datatype": "FP32"}
    if not binary:
        return json.dumps({"inputs": [{**spec, "data": x.reshape(-1).tolist()}]}).encode(), {}
    spec["parameters"] = {"binary_data_size": x.nbytes}
    head = json.dumps({"inputs": [spec]}).encode()
    return head + x.astype("<f4").tobytes(), {"Inference-Header-Content-Length": str(len(head))}


def hostile(x: np.ndarray) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(kind, body, headers, the status it must get) for each hostile request of the mix."""
    one = x[:1]
    valid, _ = tensor_body(one, binary=False)
    head, binary_headers = tensor_body(one, binary=True)
    spec = {"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32"}
    big = {"inputs": [{**spec, "shape": [4096, 1, 8, 8], "data": ["0.5"] * (4096 * 64)}]}
    return [
        ("deep-json", b"[" * 100_000 + b"]" * 100_000, {}, 400),
        ("long-integer", valid.replace(b'"data": [', b'"data": [' + b"9" * 5000 + b", ", 1), {}, 400),
        ("strings-as-fp32", json.dumps({"inputs": [{**spec, "data": ["0.5"] * 64}]}).encode(), {}, 422),
        ("booleans-as-fp32", json.dumps({"inputs": [{**spec, "data": [True] * 64}]}).encode(), {}, 422),
        ("trailing-bytes", head + b"\x00" * 16, binary_headers, 400),
        ("binary-output-string", valid[:-1] + b', "parameters": {"binary_data_output": "false"}}', {}, 422),
        ("out-of-bounds", json.dumps({"inputs": [{**spec, "data": [3.0] * 64}]}).encode(), {}, 422),
        ("2mb-strings", json.dumps(big).encode(), {}, 422),
    ]


async def raw(port: int, head: bytes, body: bytes) -> int:
    """The status of a request sent on a raw connection (one that declares more than it sends)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=30)
        return int(line.split()[1])
    finally:
        writer.close()


def declared(length: int) -> bytes:
    return f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()


async def crowd(port: int, xs: np.ndarray, want: np.ndarray, args: argparse.Namespace) -> dict[str, list]:
    rng = np.random.default_rng(args.seed)
    bad = hostile(xs)
    seen: dict[str, list] = {"latency": [], "wrong": [], "hostile_ok": [], "hostile_wrong": []}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)

    async def client(i: int, http: httpx.AsyncClient) -> None:
        for j in range(args.requests):
            draw = rng.random()
            if draw < args.hostile:
                k = int(rng.integers(len(bad) + 2))
                if k == len(bad):
                    status, kind = await raw(port, declared(60 * 2**20), b""), "60mb-declared"
                    expected = 413
                elif k == len(bad) + 1:
                    status, kind = await raw(port, declared(1000), b"0123456789"), "slow-body"
                    expected = 408
                else:
                    kind, body, headers, expected = bad[k]
                    status = (await http.post(INFER, content=body, headers=headers)).status_code
                seen["hostile_ok" if status == expected else "hostile_wrong"].append((kind, status))
                continue
            rows = int(rng.integers(1, 9))
            start = int(rng.integers(len(xs) - rows))
            body, headers = tensor_body(xs[start : start + rows], binary=bool(rng.random() < 0.5))
            t0 = time.perf_counter()
            reply = await http.post(INFER, content=body, headers={**headers, "X-Feint-Client": f"c{i}"})
            seen["latency"].append(time.perf_counter() - t0)
            if reply.status_code != 200:
                seen["wrong"].append((i, j, reply.status_code, reply.text[:120]))
                continue
            doc_len = reply.headers.get("Inference-Header-Content-Length")
            if doc_len is None:
                got = np.asarray(reply.json()["outputs"][0]["data"], dtype=np.float32)
            else:
                got = np.frombuffer(reply.content[int(doc_len) :], dtype="<f4")
            if got.size != rows * 10 or np.abs(got.reshape(rows, 10) - want[start : start + rows]).max() > 1e-4:
                seen["wrong"].append((i, j, "answer differs"))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as http:
        await asyncio.wait_for(asyncio.gather(*(client(i, http) for i in range(args.clients))), DEADLINE_S)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=6, help="requests per client")
    parser.add_argument("--hostile", type=float, default=0.25, help="share of hostile requests")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load("digits", "train")
    test = load("digits", "test")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / NAME
        train("lenet", data, test, epochs=2, out=run, progress=False, seed=0)
        model = resolve(run).module
        assert model is not None
        xs = test.x[:400].numpy()
        with torch.no_grad():
            want = model(torch.from_numpy(xs)).numpy()
        port = free_port()
        cmd = [sys.executable, "-m", "feint", "serve", "--model", str(run), "--name", NAME, "--port", str(port)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        server = subprocess.Popen([*cmd, "--body-timeout", "2"], env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            warm, _ = tensor_body(xs[:8], binary=False)
            for _ in range(20):
                httpx.post(f"http://127.0.0.1:{port}{INFER}", content=warm, timeout=30).raise_for_status()
            before = rss_mb(server.pid)
            sampler = PeakRss(server.pid)
            sampler.start()
            t0 = time.perf_counter()
            seen = asyncio.run(crowd(port, xs, want, args))
            wall = time.perf_counter() - t0
            time.sleep(2)
            sampler.done.set()
            after = rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    latency = np.asarray(seen["latency"]) * 1000
    kinds = sorted({k for k, _ in seen["hostile_ok"]})
    print(f"{args.clients} clients x {args.requests} requests in {wall:.1f} s: {len(latency)} valid, "
          f"{len(seen['hostile_ok']) + len(seen['hostile_wrong'])} hostile ({', '.join(kinds)})")  # fmt: skip
    print(f"valid requests answered correctly: {len(latency) - len(seen['wrong'])} of {len(latency)}")
    print(f"hostile requests with their expected 4xx: {len(seen['hostile_ok'])} of "
          f"{len(seen['hostile_ok']) + len(seen['hostile_wrong'])}")  # fmt: skip
    print(
        f"latency of valid requests: p50 {np.percentile(latency, 50):.0f} ms, p99 {np.percentile(latency, 99):.0f} ms"
    )
    print(f"server RSS: {before:.0f} MB after warm-up, peak {sampler.peak:.0f} MB, {after:.0f} MB afterwards "
          f"({after / before - 1:+.1%})")  # fmt: skip
    assert not seen["wrong"], seen["wrong"][:5]
    assert not seen["hostile_wrong"], seen["hostile_wrong"][:5]
    assert abs(after / before - 1) <= 0.10, "RSS did not come back within 10% of its start"


if __name__ == "__main__":
    main()
