"""Real SIGKILLs of the newer long commands (issue 19, class 7).

Each command runs in a subprocess (``tests/kill_child.py``) that stops just before it renames a
temporary into place, where a kill leaves the most behind; the test SIGKILLs it there. The kill
leaves temporaries (never a half-written file under its real name, never a half detector folder);
the same command run again succeeds and removes them, and a resumed ``blackbox`` reports what an
uninterrupted run reports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus.resume_rows import BLACKBOX, EVAL, FIT, FOOL, MATRIX, NATURAL, PHYSICAL, TRANSFER

from feint.cli import main
from feint.training import train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread_per_module")]

# The commands, as the corpus's resume rows run them (one place for both).


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, digits_train, digits_test) -> Path:
    out = tmp_path_factory.mktemp("kill") / "run"
    train("softmax", digits_train, digits_test, epochs=2, lr=0.01, out=out, progress=False)
    return out


def _args(args: tuple[str, ...], run: Path) -> list[str]:
    return [a.format(run=run) for a in args]


def kill_before_rename(args: list[str], at: int, cwd: Path, timeout: float = 240) -> Path:
    """Run ``feint args`` in a subprocess, SIGKILL it just before its ``at``-th temporary is renamed
    into place; returns that temporary's path."""
    marker = cwd / "killed-at.txt"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "FEINT_KILL_MARKER": str(marker),
        "FEINT_KILL_AT": str(at),
    }
    child = [sys.executable, str(ROOT / "tests" / "kill_child.py"), *args]
    proc = subprocess.Popen(child, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not marker.is_file() or not marker.read_text():
            if proc.poll() is not None:
                raise AssertionError(f"feint ended before the kill (exit {proc.returncode}): {proc.communicate()}")
            assert time.monotonic() < deadline, "the command never reached the rename"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    temporary = Path(marker.read_text())
    marker.unlink()
    return temporary


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.tmp"))


def run_again(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.mark.parametrize(
    ("args", "at", "written"),
    [
        (FOOL, 1, "out/fooling.npz"),
        (PHYSICAL, 1, "out/report.json"),
        (TRANSFER, 1, "out/report.json"),
        (MATRIX, 1, "out/report.json"),
        (EVAL, 1, "out/report.json"),
        (NATURAL, 1, "out/report.json"),
    ],
    ids=["fool", "physical", "transfer", "transfer-matrix", "detect-eval", "natural"],
)
def test_a_killed_run_leaves_temporaries_that_the_next_run_removes(
    args: tuple[str, ...], at: int, written: str, run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if args is EVAL:
        run_again(_args(FIT, run_dir), tmp_path, monkeypatch)
    left = kill_before_rename(_args(args, run_dir), at, tmp_path)
    assert left in temporaries(tmp_path), "the kill should have left its temporary"
    assert not (tmp_path / written).exists()  # nothing half-written under the real name
    run_again(_args(args, run_dir), tmp_path, monkeypatch)
    assert (tmp_path / written).is_file()
    assert temporaries(tmp_path) == [], "the next run must remove what the kill left"


def test_a_killed_detect_fit_leaves_no_half_detector(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    left = kill_before_rename(_args(FIT, run_dir), 1, tmp_path)  # its first file, inside the staging folder
    assert left.parent.name.startswith(".det.") and left.parent.name.endswith(".tmp")
    assert not (tmp_path / "det").exists(), "a killed fit must not leave a detector folder"
    output = run_again(_args(FIT, run_dir), tmp_path, monkeypatch)
    assert "detector saved to det" in output
    assert {p.name for p in (tmp_path / "det").iterdir()} == {"detector.json", "state.safetensors"}
    assert temporaries(tmp_path) == [] and not list(tmp_path.glob(".det.*"))


def test_a_killed_blackbox_resumes_and_reports_what_an_uninterrupted_run_reports(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = [*_args(BLACKBOX, run_dir), "--out", "cut"]
    # renames: round 0's tensors (1) and state.json (2), round 1's tensors (3): killed inside round 1's save
    kill_before_rename(cut, 3, tmp_path)
    assert temporaries(tmp_path / "cut")
    output = run_again(cut, tmp_path, monkeypatch)
    assert "resumed 1 finished substitute rounds" in output
    assert temporaries(tmp_path) == []
    run_again([*_args(BLACKBOX, run_dir), "--out", "whole"], tmp_path, monkeypatch)
    resumed, whole = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("cut", "whole"))
    assert resumed["queries"] == whole["queries"]
    assert resumed["rounds"] == whole["rounds"] and resumed["transfer"] == whole["transfer"]


@pytest.mark.parametrize(
    ("dies", "where"),
    [("1", "feint.capabilities.transfer.matrix:fit_one"), ("0", "feint.capabilities.transfer.matrix:fit_one")],
)
def test_a_sigkilled_rank_of_transfer_matrix_ends_with_feints_one_line_error(
    dies: str, where: str, tmp_path: Path
) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "FEINT_DIE_IN": where,
        "FEINT_DIE_RANK": dies,
    }
    cmd = [
        torchrun,
        "--standalone",
        "--nproc-per-node",
        "2",
        str(ROOT / "tests" / "kill_child.py"),
        *MATRIX,
        "--batch-size",
        "4",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    survivor = "0" if dies == "1" else "1"
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith(f"error: rank {survivor} "), lines
    assert "run the same command again; nothing half-written is kept in --out" in lines[0]
    frames = [line for line in done.stderr.splitlines() if line.strip().startswith('File "')]
    assert not [f for f in frames if "/feint/" in f], "a traceback through feint (torchrun's own is fine)"
    assert not (tmp_path / "out" / "report.json").exists()
