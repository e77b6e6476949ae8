"""The public face: every name in ``feint.__all__`` is the library's real function (its own signature
and docstring, not a ``*args, **kwargs`` wrapper), imported on first use; ``import feint`` imports
no torch; ``feint.attack`` runs an attack by name and ``feint.serve`` serves a model from Python."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pydoc
import signal
import subprocess
import sys
import textwrap

import httpx
import pytest
import torch
from serving import free_port, wait_ready
from torch import nn

import feint
from feint.attacks import AttackResult, pgd
from feint.errors import InputError

FUNCTIONS = sorted(set(feint.__all__) - {"__version__"})


def _resolve(name: str):  # type: ignore[no-untyped-def]
    importlib.import_module(feint._HOMES[name])
    return getattr(feint, name)


def test_the_public_names() -> None:
    public = (
        "attack audit blackbox certify detect fool load natural patch physical serve smooth train transfer "
        "transfer_matrix"
    )
    assert public.split() == FUNCTIONS
    assert set(feint.__all__) <= set(dir(feint))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        feint.nonexistent  # noqa: B018


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_name_is_the_real_function_with_its_signature_and_docstring(name: str) -> None:
    fn = _resolve(name)
    home = feint._HOMES[name]
    assert inspect.isfunction(fn) and fn.__name__ == name
    assert fn.__module__.startswith(home) and fn.__module__ != "feint", fn.__module__
    real = getattr(importlib.import_module(fn.__module__), name)
    assert fn is real or inspect.unwrap(fn) is inspect.unwrap(real)
    params = inspect.signature(fn).parameters.values()
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert named, f"feint.{name} shows only *args/**kwargs"
    assert len((fn.__doc__ or "").strip()) > 80, f"feint.{name} has no real docstring"
    page = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    assert all(p.name in page for p in named)  # help(feint.NAME) shows every option
    assert feint.__dict__[name] is fn  # kept after the first use


def test_import_feint_is_light() -> None:
    code = "import sys, feint; print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('feint')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['feint', 'feint.version']"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, feint; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, timeout=60)
    assert out.stdout.strip() == "PASSIVE"


def _threshold_model() -> nn.Module:
    """Class 1 when the mean pixel exceeds 0.5, else class 0 (inputs (N, 1, 2, 2))."""
    linear = nn.Linear(4, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.0] * 4, [1.0] * 4]))
        linear.bias.copy_(torch.tensor([0.0, -2.0]))
    return nn.Sequential(nn.Flatten(), linear).eval()


def test_attack_by_name_is_the_attack_function() -> None:
    model = _threshold_model()
    x = torch.cat([torch.full((4, 1, 2, 2), 0.3), torch.full((4, 1, 2, 2), 0.7)])
    y = torch.tensor([0] * 4 + [1] * 4)
    result = feint.attack("pgd", model, x, y, eps=0.3, steps=10, seed=1)
    assert isinstance(result, AttackResult)
    assert bool(result.success.all()) and float((result.x_adv - x).abs().max()) <= 0.3 + 1e-6
    direct = pgd(model, x, y, eps=0.3, steps=10, seed=1)
    assert torch.equal(result.x_adv, direct.x_adv)
    weak = feint.attack("pgd", model, x, y, eps=0.1, steps=10)  # 0.2 from the boundary: out of reach
    assert not bool(weak.success.any())


def test_attack_refuses_an_unknown_name_listing_the_names() -> None:
    model = _threshold_model()
    x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 1])
    with pytest.raises(InputError, match=r"unknown attack 'pgdd'; available: .*\bfgsm\b.*\bpgd\b.*\bsquare\b"):
        feint.attack("pgdd", model, x, y)
    with pytest.raises(InputError, match=r"attack 'pgd' has no parameter epsilon; its parameters are .*eps"):
        feint.attack("pgd", model, x, y, epsilon=0.1)


def test_serve_checks_its_settings_before_binding() -> None:
    with pytest.raises(InputError, match="--max-rows must be at least 1"):
        feint.serve(_threshold_model(), max_rows=0, input_shape=(1, 2, 2))
    with pytest.raises(InputError, match="may use only letters"):
        feint.serve(_threshold_model(), name="a b", input_shape=(1, 2, 2))


def test_serve_from_python_answers_a_real_client() -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import torch, feint
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
        log = feint.serve(model, name="tiny", input_shape=(1, 2, 2), port={port})
        print("answered", log["queries"], "rows")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, 120)
        x = torch.rand(3, 1, 2, 2)
        body = {"inputs": [{"name": "input", "shape": [3, 1, 2, 2], "datatype": "FP32", "data": x.flatten().tolist()}]}
        answer = httpx.post(f"{base}/v2/models/tiny/infer", content=json.dumps(body), timeout=30)
        assert answer.status_code == 200, answer.text
        logits = torch.tensor(answer.json()["outputs"][0]["data"]).view(3, 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        assert torch.allclose(logits, model(x), atol=1e-5)
    assert proc.returncode == 0 and "answered 3 rows" in out, err
