"""The work a GPU changes, on the device ``FEINT_TEST_DEVICE`` names (default: the CPU): an attack, the
audit, a training step, the server and the mutation pool. Marked ``gpu``: ``benchmarks/gpu_check.py``
runs them on the GPU (``pytest -m gpu``); everywhere else they run on the CPU and must pass there too.
Each result stays on the device (nothing is moved behind the caller's back) and matches the CPU's."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

import feint
from feint.attacks import pgd
from feint.data import Dataset

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def device() -> torch.device:
    return torch.device(os.environ.get("FEINT_TEST_DEVICE", "cpu"))


@pytest.fixture(scope="module")
def small(digits_test: Dataset) -> Dataset:
    return digits_test.head(32)


def on(device: torch.device, model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).to(device).eval()


def test_pgd_fools_on_the_device_and_agrees_with_the_cpu(lenet_digits, small, device) -> None:
    x, y = small.x.to(device), small.y.to(device)
    res = pgd(on(device, lenet_digits), x, y, eps=0.2, steps=10, step_size=0.05, seed=0)
    assert res.x_adv.device.type == device.type and res.success.float().mean() > 0.5
    cpu = pgd(on(torch.device("cpu"), lenet_digits), small.x, small.y, eps=0.2, steps=10, step_size=0.05, seed=0)
    assert abs(int(res.success.sum()) - int(cpu.success.sum())) <= 1  # kernels round differently
    assert float((res.x_adv - x).abs().amax()) <= 0.2 + 1e-6


def test_the_audit_runs_on_the_device(lenet_digits, small, device) -> None:
    report = feint.audit(on(device, lenet_digits), small, eps=[0.0, 0.1], preset="quick", device=device)
    cpu = feint.audit(on(torch.device("cpu"), lenet_digits), small, eps=[0.0, 0.1], preset="quick")
    assert report["clean_accuracy"] == cpu["clean_accuracy"]
    assert abs(report["worst_case"]["accuracy"][1] - cpu["worst_case"]["accuracy"][1]) <= 1 / 32


def test_a_training_step_lowers_the_loss_on_the_device(digits_train, device) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = digits_train.x[:256].to(device), digits_train.y[:256].to(device)
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] and next(model.parameters()).device.type == device.type


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_server_answers_from_the_device(lenet_digits, small, device) -> None:
    from fastapi.testclient import TestClient

    from feint.models.loading import LoadedModel
    from feint.server.app import create_app
    from feint.server.served import Served

    loaded = LoadedModel("lenet", "factory", on(device, lenet_digits), None)
    served = Served(loaded, "lenet", "logits", (1, 8, 8), num_classes=10)
    x = small.x[:4].numpy()
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape), "data": x.ravel().tolist()}]}
    with TestClient(create_app(served)) as client:
        reply = client.post("/v2/models/lenet/infer", json=body)
    assert reply.status_code == 200, reply.text
    logits = np.asarray(reply.json()["outputs"][0]["data"], dtype=np.float32).reshape(4, 10)
    with torch.no_grad():
        expected = lenet_digits.eval()(small.x[:4]).numpy()
    assert np.allclose(logits, expected, atol=1e-4)


def test_the_mutation_pool_runs_on_the_device(lenet_digits, digits_train, small, device) -> None:
    from feint.detectors.mutation import MutationDetector

    model = on(device, lenet_digits)
    detector = MutationDetector(model, n_mutants=8, filter_inputs=64, pairs=64, seed=0)
    detector.fit(digits_train.x[:64].to(device), digits_train.y[:64].to(device))
    adv = pgd(model, small.x.to(device), small.y.to(device), eps=0.3, steps=10, step_size=0.05, seed=0).x_adv
    scores = detector.score(adv)
    assert scores.shape == (32,) and len(detector.pool_) >= 1
