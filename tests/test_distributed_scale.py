"""Scaling out without waste: two torchrun launchers (two "nodes" on 127.0.0.1, a c10d rendezvous, gloo)
audit a streamed folder of ``.npz`` shards and write the report one process writes, figure for figure; a
rank whose partners never arrive stops with one error after ``FEINT_DIST_TIMEOUT`` seconds and writes
nothing; an oracle is asked each clean answer once across the ranks; ``transfer --matrix`` fits each
model once across the ranks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from distributed_jobs import free_port, launch
from helpers import passes_across_ranks
from streaming_model import linear
from test_distributed_commands import no_clocks

from feint.cli import main
from feint.data import load

TESTS = Path(__file__).resolve().parent


def env() -> dict[str, str]:
    path = os.pathsep.join([str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, "FEINT_DIST_TIMEOUT": "60"}


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    d = load("digits", "test")
    root = tmp_path / "shards"
    root.mkdir()
    for k in range(3):
        x = (d.x[k * 16 : (k + 1) * 16].numpy() * 255).round().astype(np.uint8)
        np.savez(root / f"part-{k}.npz", x=x, y=d.y[k * 16 : (k + 1) * 16].numpy())
    return root


def audit_args(data: Path) -> list[str]:
    return ["audit", "--model", "streaming_model:linear", "--data", str(data), "--eps", "0,0.05,0.1"]


@pytest.mark.slow
def test_two_nodes_audit_what_one_process_audits(shards, tmp_path, monkeypatch) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    args = [*audit_args(shards), "--preset", "quick", "--batch-size", "12", "--device", "cpu", "--quiet"]
    rendezvous = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-id", "feint-test"]
    rendezvous += ["--rdzv-endpoint", f"127.0.0.1:{free_port()}"]
    launcher = [torchrun, *rendezvous, "-m", "feint", *args, "--out", str(tmp_path / "two")]
    nodes = [
        subprocess.Popen(
            [*launcher[:1], "--node-rank", str(r), *launcher[1:]],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    monkeypatch.syspath_prepend(str(TESTS))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs: the figures are bit-identical at one thread
    try:
        one = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
    finally:
        torch.set_num_threads(before)
    outputs = [node.communicate(timeout=120) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert one.exit_code == 0, one.output
    assert sum(out.count("report:") for out, _ in outputs) == 1  # rank 0 alone prints and writes
    reports = [json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two")]
    assert no_clocks(passes_across_ranks(reports[1])) == no_clocks(passes_across_ranks(reports[0]))
    assert reports[0]["data"]["n"] == 48


def test_a_rank_whose_partners_never_arrive_stops_with_one_error_and_writes_nothing(tmp_path) -> None:
    launch = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    launch |= {"MASTER_PORT": str(free_port()), "FEINT_DIST_TIMEOUT": "2"}
    cmd = [sys.executable, "-m", "feint", *audit_args(Path("digits")), "--quiet", "--out", str(tmp_path / "out")]
    done = subprocess.run(cmd, env={**env(), **launch}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert (
        done.stderr.startswith("error: could not join torchrun's process group")
        and "FEINT_DIST_TIMEOUT=2" in done.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_no_rank_repeats_another_ranks_work_oracle_answers_and_matrix_fits(tmp_path) -> None:
    """One launch of two ranks for both (a start-up each costs seconds): a query-only audit asks the
    oracle for each clean answer once; the transfer matrix fits each model once. Both equal one process."""
    import feint
    from feint.capabilities.transfer.matrix import transfer_matrix
    from feint.capabilities.transfer.techniques import TechniqueSettings
    from feint.oracles import as_oracle

    audit_kw = {"eps": [0.0, 0.1], "preset": "quick", "batch_size": 6, "max_queries": 3000}
    matrix_kw = {"techniques": "lr,dt,knn,ens", "eps": 0.2, "batch_size": 8}
    ranks = launch("no_waste", {"oracle": audit_kw, "matrix": matrix_kw}, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    oracle_runs, matrix_runs = [r["result"]["oracle"] for r in ranks], [r["result"]["matrix"] for r in ranks]
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs
    try:
        data = load("digits", "test").head(24)
        oracle = as_oracle(linear(), access="scores")
        one = feint.audit(oracle, data.x, data.y, data_info=data.info, distributed=False, **audit_kw)
        settings = TechniqueSettings(dnn_arch="mlp", dnn_epochs=1, substitute_epochs=2)
        train, test = load("digits", "train").head(200), load("digits", "test").head(24)
        one_matrix = transfer_matrix(train, test, settings=settings, **matrix_kw)
    finally:
        torch.set_num_threads(before)
    two = oracle_runs[0]["report"]
    assert two["queries"] == one["queries"] and two["worst_case"] == one["worst_case"]
    assert oracle_runs[0]["mine"] + oracle_runs[1]["mine"] == oracle.queries  # no answer asked twice
    assert oracle_runs[1]["mine"] >= 12  # rank 1 answered its own clean batches (2 of 4)
    fits = sorted(tuple(f) for run in matrix_runs for f in run["fits"])
    assert fits == sorted((t, 100) for t in ("dnn", "lr", "svm", "dt", "knn") for _ in "AB")  # once each, per half
    assert all(run["fits"] for run in matrix_runs)  # shared between the ranks
    assert no_clocks(matrix_runs[0]["report"]) == no_clocks({**one_matrix.data, "timings": None})
