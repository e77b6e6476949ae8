"""The runnable docs run: every script of ``examples/`` (at the tests' size, ``--small``), the
README's commands and Python top to bottom, and every other Python block of the docs pages, each in
a fresh folder.

Each example asserts what it shows (it fools, defends, detects), so a run that ends is the check.
The docs pages include these scripts (``--8<--``), so the docs run as written too.

They run in the test's own process: a ``feint ...`` line through the same click entry point the
console script calls, a script or block as ``__main__`` (:func:`runpy.run_path`). A fresh Python
for each spent 3-7 s importing torch, scikit-learn and matplotlib again, about half of these tests'
time. What needs a process of its own has one: the README's server, and the serve example's.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest
from conftest import torch_threads
from hypothesis import given, settings
from hypothesis import strategies as st

from feint.cli import main as feint_main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# At --small each takes 3-15 s on one idle CPU core (detect and blackbox the longest); those are marked slow.
SLOW = {"detect", "blackbox"}
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py"))


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A fresh empty folder made the working directory, with one torch thread (as the examples'
    users on a laptop core) and this checkout's feint for any process a script starts."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with torch_threads(1):
        yield work


def run_feint(line: str) -> None:
    """One ``feint ...`` command line, as the console script runs it; a non-zero exit fails the test."""
    args = shlex.split(line)
    assert args[0] == "feint", line
    try:
        feint_main.main(args[1:], prog_name="feint", standalone_mode=False)
    except SystemExit as exc:
        assert exc.code in (0, None), f"{line!r} exited with {exc.code}"


def run_script(path: Path, *args: str) -> None:
    """``python PATH ARGS`` in this process: the script runs as ``__main__`` with its own argv."""
    argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv


def test_every_capability_has_an_example():
    wanted = {"audit", "attack", "defend", "blackbox", "transfer", "physical", "natural", "fool", "detect", "serve"}
    wanted |= {"certify"}
    wanted |= {"patch"}
    assert wanted <= set(SCRIPTS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SCRIPTS])
def test_example_runs_and_shows_what_it_claims(name, here, capsys):
    run_script(EXAMPLES / f"{name}.py", "--small")
    assert capsys.readouterr().out.strip(), "an example prints what it shows"


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


def readme_lines(port: int = 8080) -> list[str]:
    """The README's bash blocks, a line each, minus the set-up (``make``), which the suite runs under;
    ``port`` replaces the README's 8080 (another process may hold it)."""
    return [
        line.strip().replace(":8080", f":{port}").replace("--port 8080", f"--port {port}")
        for block in _blocks((ROOT / "README.md").read_text(encoding="utf-8"), "bash")
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("make ")
    ]


_WAIT_FOR = re.compile(r"until curl -sf -o /dev/null (\S+); do sleep 1; done(\s+#.*)?")


def run_readme_line(line: str, servers: list[subprocess.Popen[bytes]]) -> None:
    """One README line as bash would run it: ``feint ... &`` starts a server of its own, ``until curl
    URL ...`` waits (60 s at most) for it to answer, ``kill %1`` stops it; a ``feint`` line runs here."""
    if line.endswith("&"):
        command = shlex.split(line[:-1])
        assert command[0] == "feint", line
        servers.append(subprocess.Popen([sys.executable, "-m", "feint", *command[1:]]))
    elif wait := _WAIT_FOR.fullmatch(line):
        for _ in range(300):
            assert servers[-1].poll() is None, "the README's server stopped before it answered"
            try:
                if httpx.get(wait.group(1), timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{wait.group(1)} did not answer within 60 s")
    elif line == "kill %1":
        servers[0].terminate()
        servers[0].wait(timeout=30)
    else:
        assert line.startswith("feint "), f"a README line this test cannot run yet, teach it: {line!r}"
        run_feint(line)


def test_readme_shows_the_two_setup_commands_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    setup = [line.split("#")[0].strip() for line in _blocks(text, "bash")[0].splitlines()]
    assert setup == ["make demo", "make test"]


@pytest.mark.slow
def test_readme_runs_top_to_bottom_in_a_fresh_folder(here):
    """Every command, then every Python block, as written, in one empty folder."""
    lines = readme_lines(_free_port())
    assert sum(line.startswith("feint ") for line in lines) > 15
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for line in lines:
            run_readme_line(line, servers)
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=30)
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
        assert (here / report / "report.html").is_file(), report
    for i, block in enumerate(_blocks((ROOT / "README.md").read_text(encoding="utf-8"), "python")):
        (here.parent / f"readme_{i}.py").write_text(block)
        run_script(here.parent / f"readme_{i}.py")
    assert (here / "audit-py" / "report.html").is_file()


PAGES_WITH_PYTHON = sorted(
    str(p.relative_to(ROOT / "docs"))
    for p in (ROOT / "docs").rglob("*.md")
    if any("--8<--" not in b for b in _blocks(p.read_text(encoding="utf-8"), "python"))
)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """``runs/lenet`` and ``runs/mlp``, made by the commands the guide pages start from."""
    folder = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch, torch_threads(1):
        patch.chdir(folder)
        for arch in ("lenet", "mlp"):
            run_feint(f"feint train --data digits --arch {arch} --epochs 10 --out runs/{arch}")
    return folder / "runs"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_PYTHON)
def test_docs_python_blocks_run_as_written(page, trained_runs, here):
    """A page's Python blocks in order (those that include an example ran above), in a fresh folder
    holding only the runs the guide pages say they start from."""
    shutil.copytree(trained_runs, here / "runs")
    blocks = _blocks((ROOT / "docs" / page).read_text(encoding="utf-8"), "python")
    for i, block in enumerate(b for b in blocks if "--8<--" not in b):
        script = here.parent / f"block_{i}.py"
        script.write_text(block)
        run_script(script)


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
