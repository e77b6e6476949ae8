"""Under torchrun: a 2-rank gloo audit equals one process, a lost rank stops the job and the rerun
resumes, DDP training trains as one process does and writes once, bad starts fail on every rank.

The ranks are spawned processes on 127.0.0.1 with the environment torchrun sets
(``distributed_jobs.launch``); each uses one thread, as torchrun gives it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from distributed_jobs import escalating_preset, launch
from helpers import passes_across_ranks
from safetensors.torch import load_file
from torch import nn

import feint
from feint import distributed as fd
from feint.capabilities.audit.points import PointStore
from feint.data import Dataset
from feint.errors import DistributedError
from feint.models import load_model, save_model

AUDIT = {"eps": [0.0, 0.1, 0.2], "preset": "standard", "batch_size": 12, "seed": 3}
N = 48


@contextmanager
def one_thread() -> Iterator[None]:
    """Per-sample figures are bit-identical at the same thread count (float sums change order with it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measured(report: dict[str, Any]) -> dict[str, Any]:
    """A report without clocks."""
    skip = {"created", "timings"}
    out = {k: v for k, v in report.items() if k not in skip}
    out["attacks"] = {k: {f: x for f, x in a.items() if f != "seconds"} for k, a in report["attacks"].items()}
    rungs = [{f: x for f, x in r.items() if f != "seconds"} for r in report["escalation"]["rungs"]]
    out["escalation"] = {**report["escalation"], "rungs": rungs}
    return passes_across_ranks(out)


def per_sample(out: Path) -> dict[str, Any]:
    """Everything the audit keeps per input: the state's tensors and the worst-case points' bytes."""
    folder = out / "audit_state"
    meta = json.loads((folder / "state.json").read_text())
    tensors = load_file(str(folder / meta["tensors"]))
    points = next(folder.glob("points-*.bin")).read_bytes()
    return {"tensors": {k: v.tolist() for k, v in tensors.items()}, "points": points, "done": meta["done"]}


@pytest.fixture(scope="module")
def model_dir(lenet_digits: nn.Module, digits_test: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "lenet"
    return save_model(lenet_digits, folder, arch="lenet", data=digits_test.info.to_dict())


@pytest.fixture(scope="module")
def single(model_dir: Path, digits_test: Dataset, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("single")
    data = digits_test.head(N)
    with one_thread():
        report = feint.audit(
            load_model(model_dir), data.x, data.y, out=out, data_info=data.info, progress=False, **AUDIT
        )
    return report.to_dict(), out


@pytest.mark.slow
def test_two_ranks_audit_exactly_what_one_process_does_and_only_rank_0_writes(model_dir, single, tmp_path) -> None:
    report, one = single
    out = tmp_path / "two"
    ranks = launch("audit", {"model": str(model_dir), "out": str(out), "n": N, **AUDIT}, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    assert measured(ranks[0]["result"]["report"]) == measured(report)
    assert ranks[1]["result"]["report"] == ranks[0]["result"]["report"]  # every rank returns the report
    assert per_sample(out) == per_sample(one)
    assert ranks[1]["writes"] == []
    written = {Path(p).name for p in ranks[0]["writes"]}
    assert {"report.json", "report.html", "state.json"} <= written and any(w.startswith("points-") for w in written)


@pytest.mark.slow
def test_an_escalating_audit_on_two_ranks_equals_one_process(model_dir, digits_test, tmp_path) -> None:
    """Issue 11's escalation under torchrun: rank 0 runs the checks and decides, both ranks run the
    rungs; the report (escalation section included) and every per-sample figure equal one process's."""
    settings = {"eps": [0.0, 0.05, 0.1, 0.15], "batch_size": 12, "seed": 3}
    data = digits_test.head(N)
    with one_thread():
        alone = feint.audit(
            load_model(model_dir),
            data.x,
            data.y,
            preset=escalating_preset(),
            out=tmp_path / "one",
            data_info=data.info,
            progress=False,
            **settings,
        ).to_dict()
    rungs = alone["escalation"]["rungs"]
    assert [r["attack"] for r in rungs] == ["pgd x20", "apgd-t x9"] and sum(rungs[0]["broke"]) > 0
    job = {"model": str(model_dir), "out": str(tmp_path / "two"), "n": N, "preset": "escalating", **settings}
    ranks = launch("audit", job, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    two = ranks[0]["result"]["report"]
    assert measured(two) == measured(alone) and ranks[1]["result"]["report"] == two
    assert per_sample(tmp_path / "two") == per_sample(tmp_path / "one")


@pytest.mark.slow
def test_a_killed_rank_stops_the_job_and_the_rerun_resumes(model_dir, single, tmp_path) -> None:
    report, one = single
    out = tmp_path / "audit"
    job = {"model": str(model_dir), "out": str(out), "n": N, **AUDIT}
    ranks = launch("audit", {**job, "die_after": 4}, tmp_path / "first")
    assert ranks[1]["exitcode"] == -9
    assert ranks[0]["error"].startswith("RankLostError: rank 0 lost the other ranks while")
    assert not (out / "report.json").exists()
    done = json.loads((out / "audit_state" / "state.json").read_text())["done"]
    assert 4 <= len(done) < len(per_sample(one)["done"])
    again = launch("audit", job, tmp_path / "second")
    assert [r["exitcode"] for r in again] == [0, 0], [r.get("traceback") for r in again]
    assert f"resumed {len(done)} finished units" in " ".join(again[0]["result"]["notes"])
    assert measured(again[0]["result"]["report"]) == measured(report)
    assert per_sample(out) == per_sample(one)


@pytest.mark.slow
def test_ddp_training_matches_one_process_writes_once_and_resumes_after_a_rank_died(digits_train, tmp_path) -> None:
    settings = {"epochs": 4, "seed": 0, "lr": 3e-3, "recipe": "goodfellow", "recipe_options": {"eps": 0.1}}
    with one_thread():
        alone = feint.train("mlp", digits_train, feint.load("digits", "test").head(360), progress=False, **settings)
    run = tmp_path / "run"
    first = launch("train", {"out": str(run), "die_in_epoch": 3, **settings}, tmp_path / "a")  # rank 1 dies
    assert first[1]["exitcode"] == -9, first[1].get("error")
    assert first[0]["error"].startswith("RankLostError: rank 0 lost the other ranks while training (epoch 3, batch 1)")
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["epoch"] == 2
    resumed = launch("train", {"out": str(run), "resume": True, **settings}, tmp_path / "b")
    assert [r["exitcode"] for r in resumed] == [0, 0], [r.get("traceback") for r in resumed]
    two = resumed[0]["result"]
    assert [h["epoch"] for h in two["history"]] == [1, 2, 3, 4]
    assert two == resumed[1]["result"]  # same weights on every rank
    assert alone.test_accuracy is not None and abs(two["test_accuracy"] - alone.test_accuracy) <= 0.05
    assert two["test_accuracy"] >= 0.8
    assert resumed[1]["writes"] == []
    assert any(Path(w).name == "config.json" for w in resumed[0]["writes"])
    training = json.loads((run / "config.json").read_text())["training"]
    assert training["world_size"] == 2 and training["effective_batch_size"] == 2 * training["batch_size"]


@pytest.mark.slow
def test_bad_starts_give_one_error_on_every_rank_and_write_nothing(model_dir, tmp_path) -> None:
    ranks = launch("bad", {"model": str(model_dir), "tmp": str(tmp_path / "out")}, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    errors = ranks[0]["result"]
    assert errors == ranks[1]["result"]  # the same message on every rank
    assert errors["other_seed"] == (
        "DistributedError: the ranks were not started alike: rank 1 has other arguments than rank 0; "
        "start every rank with the same command, files and feint version"
    )
    assert "rank 1 has other input data than rank 0" in errors["other_data"]
    assert "1 inputs to audit cannot be shared among 2 ranks" in errors["too_few_inputs"]
    assert "is not one folder shared by every rank: rank 1 cannot see" in errors["folder_not_shared"]
    assert "rank 1 has other feint version than rank 0 (rank 0: 0.1.0, rank 1: 0.0.1)" in errors["other_version"]
    assert errors["idle_note"] == [
        "24 inputs make 1 batch(es) of 100 for 2 ranks: some ranks had no work; --batch-size 12 or less "
        "gives every rank a batch (the results depend on the batch size)"
    ]
    assert errors["buffers_matched"] is True
    assert errors["group_work"] == [
        "RankLostError: rank R lost the other ranks while training (epoch 1, batch 1) (Read error: Connection reset "
        "by peer); a rank that dies stops the whole job; its log says why",
        "RuntimeError: bad shapes",
    ]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    scratch = [w for w in ranks[0]["writes"] if "/feint-audit-" in w]  # the run without out: rank 0's temp points
    assert ranks[0]["writes"] == scratch and len(scratch) == 1 and ranks[1]["writes"] == []


def test_alone_every_helper_is_a_plain_loop() -> None:
    assert not fd.active() and fd.rank() == 0 and fd.world_size() == 1 and fd.is_root()
    assert fd.shard(10) == slice(0, 10) and list(fd.my_chunks(3)) == [0, 1, 2]
    parts = list(fd.map_chunks(3, lambda c: {"v": torch.tensor([c])}, device=torch.device("cpu")))
    assert [(c, int(p["v"])) for c, p in parts] == [(0, 0), (1, 1), (2, 2)]
    assert fd.all_gather_json({"a": 1}, "x") == [{"a": 1}]
    assert torch.equal(
        fd.epoch_order(5, seed=7, epoch=2), torch.randperm(5, generator=torch.Generator().manual_seed(9))
    )
    with fd.together("nothing"):
        pass


def test_distributed_true_without_torchrun_is_refused(monkeypatch, digits_test) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(DistributedError, match="torchrun --nproc-per-node"):
        feint.audit(model, digits_test.x[:4], digits_test.y[:4], distributed=True, progress=False)
    with pytest.raises(DistributedError, match="torchrun --nproc-per-node"):
        feint.train(model, digits_test.head(8), epochs=1, distributed=True, progress=False)


def test_point_store_round_trip(tmp_path) -> None:
    store = PointStore(tmp_path / "p.bin", slots=3, n=10, shape=(1, 2, 2), dtype=torch.float32).create()
    points = torch.rand(4, 1, 2, 2)
    rows = torch.tensor([7, 2, 3, 9])
    store.write(1, rows, points)
    assert torch.equal(store.read(1, torch.tensor([3, 9, 7, 2])), points[[2, 3, 0, 1]])
    assert torch.equal(store.read(0, torch.tensor([2])), torch.zeros(1, 1, 2, 2))  # never written: zeros
    assert (tmp_path / "p.bin").stat().st_size == 3 * 10 * 4 * 4
    store.close()
    assert PointStore(tmp_path / "p.bin", slots=3, n=10, shape=(1, 2, 2), dtype=torch.float32).open() is not None
    assert PointStore(tmp_path / "p.bin", slots=4, n=10, shape=(1, 2, 2), dtype=torch.float32).open() is None


@pytest.mark.slow
def test_a_defense_recipe_trains_under_ddp_through_the_per_batch_hook(tmp_path) -> None:
    """TRADES (issue 11's feint.defenses) calls the model twice in train mode and attacks it in eval
    mode inside its per-batch hook; under DDP both ranks end with the same weights and it learns."""
    settings = {"epochs": 2, "seed": 0, "lr": 3e-3, "recipe": "trades", "recipe_options": {"eps": 0.1, "steps": 3}}
    ranks = launch("train", {"out": str(tmp_path / "run"), **settings}, tmp_path / "r")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    assert ranks[0]["result"] == ranks[1]["result"]
    assert ranks[0]["result"]["test_accuracy"] >= 0.6


@pytest.mark.slow
def test_the_guard_decides_on_rank_0_and_every_rank_rolls_back_and_stops(tmp_path) -> None:
    """fast-at's guard runs on rank 0 only (the job fails if another rank runs it); when it reports
    a collapse in epoch 2, every rank restores epoch 1's weights and stops, and rank 0 saves that."""
    settings = {"epochs": 3, "seed": 0, "lr": 3e-3, "recipe": "fast-at", "recipe_options": {"eps": 0.1}}
    run = tmp_path / "run"
    ranks = launch("train", {"out": str(run), "collapse_in_epoch": 2, **settings}, tmp_path / "r")
    assert [r["exitcode"] for r in ranks] == [0, 0], [r.get("traceback") for r in ranks]
    result = ranks[0]["result"]
    assert result == ranks[1]["result"]
    assert [h["epoch"] for h in result["history"]] == [1, 2] and result["history"][1]["collapsed"] is True
    assert result["test_accuracy"] == result["history"][0]["test_accuracy"]  # epoch 1's weights
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["epoch"] == 2
