"""The examples run as scripts and do what they say."""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@functools.cache
def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_linear_regression_script_raises_the_loss_and_saves_a_plot(tmp_path):
    out = tmp_path / "line.png"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "linear_regression.py"), "--eps", "0.2", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before = float(re.search(r"loss before:\s*([0-9.]+)", proc.stdout).group(1))
    after = float(re.search(r"loss after:\s*([0-9.]+)", proc.stdout).group(1))
    assert after > before
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp.png"))


def test_linear_regression_fit_recovers_the_line():
    example = _load("linear_regression")
    x, y = example.make_points(n=200, seed=1)
    line = example.fit_line(x, y)
    a, b = np.polyfit(x, y, 1)
    assert abs(line.a - a) < 0.05 and abs(line.b - b) < 0.1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.01, 1.0))
def test_moving_the_inputs_by_the_gradient_sign_raises_the_loss(seed, eps):
    example = _load("linear_regression")
    x, y = example.make_points(n=30, seed=seed)
    line = example.fit_line(x, y, steps=500)
    x_adv = example.attack_inputs(line, x, y, eps=eps)
    assert np.abs(x_adv - x).max() <= eps + 1e-12
    assert example.squared_loss(line, x_adv, y) > example.squared_loss(line, x, y)
