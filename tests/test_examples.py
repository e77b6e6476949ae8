"""The runnable docs run: every script of ``examples/`` (at the tests' size, ``--small``), the
README's commands and Python top to bottom, and every other Python block of the docs pages, each in
a fresh folder.

Each example asserts what it shows (it fools, defends, detects), so a run that exits 0 is the check.
The docs pages include these scripts (``--8<--``), so the docs run as written too.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# At --small each takes 6-20 s on one idle CPU core (detect 20 s, blackbox 13 s, the others 6-8 s);
# those near 20 s are marked slow.
SLOW = {"detect", "blackbox"}
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py"))


def _env(tmp_path: Path) -> dict[str, str]:
    """This checkout's feint first on the path, and a ``feint`` command that runs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "feint"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m feint "$@"\n')
    launcher.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(args: list[str], folder: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_every_capability_has_an_example():
    wanted = {"audit", "attack", "defend", "blackbox", "transfer", "physical", "natural", "fool", "detect", "serve"}
    wanted |= {"patch"}
    assert wanted <= set(SCRIPTS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SCRIPTS])
def test_example_runs_and_shows_what_it_claims(name, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = _run([sys.executable, str(EXAMPLES / f"{name}.py"), "--small"], work, _env(tmp_path), timeout=600)
    assert proc.stdout.strip(), "an example prints what it shows"


def test_every_example_is_shown_in_the_docs():
    """The guide pages include the scripts (``--8<--``) rather than copies, so the docs run as written."""
    pages = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md"))
    shown = set(re.findall(r'--8<-- "examples/(\w+)\.py"', pages))
    assert set(SCRIPTS) - {"linear_regression"} <= shown


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readme_script(port: int = 8080) -> str:
    """The README's bash blocks as one script, minus the set-up (``make``), which the suite runs under;
    ``port`` replaces the README's 8080 (another process may hold it)."""
    lines = [
        line
        for block in _blocks((ROOT / "README.md").read_text(encoding="utf-8"), "bash")
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("make ")
    ]
    return "set -e\n" + "\n".join(lines).replace(":8080", f":{port}").replace("--port 8080", f"--port {port}") + "\n"


def test_readme_shows_the_two_setup_commands_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    setup = [line.split("#")[0].strip() for line in _blocks(text, "bash")[0].splitlines()]
    assert setup == ["make demo", "make test"]


@pytest.mark.slow
def test_readme_runs_top_to_bottom_in_a_fresh_folder(tmp_path):
    """Every command, then every Python block, as written, in one empty folder."""
    work = tmp_path / "work"
    work.mkdir()
    env = _env(tmp_path)
    script = readme_script(_free_port())
    assert script.count("feint ") > 15
    (tmp_path / "readme.sh").write_text(script)
    _run(["bash", str(tmp_path / "readme.sh")], work, env, timeout=900)
    for report in (
        "audit",
        "audit-fast-at",
        "blackbox",
        "transfer",
        "matrix",
        "physical",
        "natural",
        "fool",
        "detect-eval",
        "patch",
    ):
        assert (work / report / "report.html").is_file(), report
    for i, block in enumerate(_blocks((ROOT / "README.md").read_text(encoding="utf-8"), "python")):
        (tmp_path / f"readme_{i}.py").write_text(block)
        _run([sys.executable, str(tmp_path / f"readme_{i}.py")], work, env, timeout=600)
    assert (work / "audit-py" / "report.html").is_file()


PAGES_WITH_PYTHON = sorted(
    str(p.relative_to(ROOT / "docs"))
    for p in (ROOT / "docs").rglob("*.md")
    if any("--8<--" not in b for b in _blocks(p.read_text(encoding="utf-8"), "python"))
)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """``runs/lenet`` and ``runs/mlp``, made by the commands the guide pages start from."""
    folder = tmp_path_factory.mktemp("runs")
    env = _env(tmp_path_factory.mktemp("launcher"))
    for arch in ("lenet", "mlp"):
        command = f"feint train --data digits --arch {arch} --epochs 10 --out runs/{arch}"
        _run(["bash", "-c", command], folder, env, timeout=600)
    return folder / "runs"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_PYTHON)
def test_docs_python_blocks_run_as_written(page, trained_runs, tmp_path):
    """A page's Python blocks in order (those that include an example ran above), in a fresh folder
    holding only the runs the guide pages say they start from."""
    work = tmp_path / "work"
    shutil.copytree(trained_runs, work / "runs")
    env = _env(tmp_path)
    blocks = _blocks((ROOT / "docs" / page).read_text(encoding="utf-8"), "python")
    for i, block in enumerate(b for b in blocks if "--8<--" not in b):
        script = tmp_path / f"block_{i}.py"
        script.write_text(block)
        _run([sys.executable, str(script)], work, env, timeout=600)


# The line example's parts, checked on their own.


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
