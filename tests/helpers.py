"""Small model wrappers and a real ``feint serve`` subprocess, shared by several test files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import torch
from torch import Tensor, nn


class Rescale(nn.Module):
    """Maps inputs in [lo, hi] back to the [0, 1] a model was trained on (normalisation inside the model)."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.lo) / (self.hi - self.lo)


class ScaledLogits(nn.Module):
    """The same classifier with logits x factor: a saturated softmax, zero CE gradients in float32."""

    def __init__(self, model: nn.Module, factor: float) -> None:
        super().__init__()
        self.model, self.factor = model, factor

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x) * self.factor


def export_onnx(model: nn.Module, path: str | os.PathLike[str], *, dynamic: bool = True) -> None:
    """``model`` (digits-sized inputs) as an ONNX file with input "x" and output "logits"."""
    axes = {"x": {0: "n"}, "logits": {0: "n"}} if dynamic else None
    torch.onnx.export(
        model, torch.rand(2, 1, 8, 8), str(path), input_names=["x"], output_names=["logits"],
        dynamic_axes=axes, dynamo=False,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def feint_server(*args: str, ready_within: float = 120) -> Iterator[tuple[str, subprocess.Popen]]:
    """``feint serve ARGS`` on 127.0.0.1 and a free port, as a subprocess: yields (base URL, process)
    once it is ready; always stopped with SIGTERM (killed if it does not stop within 30 s), and a
    clean shutdown is asserted when the body did not fail."""
    port = free_port()
    cmd = [sys.executable, "-m", "feint", "serve", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"feint serve did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0 and "stopped after answering" in err  # clean shutdown on SIGTERM
