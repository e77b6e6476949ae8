"""``benchmarks/gpu_check.py --device cpu --small`` runs end to end on the CPU (CI proves the script the GPU
day will run works): every workload's figures, its timings against a bare loop, PASS. The tests it runs
first (``-m gpu``) run in the suite anyway, so here it skips them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_on_the_cpu_in_its_small_mode(tmp_path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--small", "--skip-tests"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*cmd, "--cache", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for workload in ("PGD", "audit", "HopSkipJump", "mutation pool"):
        row = next(line for line in lines if line.startswith(workload))
        assert " yes " in row and " NO " not in row, row  # the CPU agrees with itself
    assert lines[-1].endswith("PASS")
