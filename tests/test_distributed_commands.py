"""Under torchrun the per-input commands (``physical``, ``blackbox``, ``transfer --matrix``, ``detect
eval``) share their batches among the ranks and measure exactly what one process measures; rank 0
alone writes; bad starts fail on every rank with one error; the DDP recipes train and write once.

The ranks are spawned processes on 127.0.0.1 with the environment torchrun sets
(``distributed_jobs.launch``), one thread each; ``feint physical`` also runs under torchrun itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from distributed_jobs import launch
from torch import nn

from feint.cli import main
from feint.data import Dataset
from feint.models import save_model

N = 40
CLOCKS = {"created", "timings", "seconds", "seconds_per_decision", "attack_seconds", "run_dir"}


def no_clocks(obj: Any) -> Any:
    """A report without clocks (and the substitute's folder, which names the run's --out)."""
    if isinstance(obj, dict):
        return {k: no_clocks(v) for k, v in obj.items() if k not in CLOCKS}
    if isinstance(obj, list):
        return [no_clocks(v) for v in obj]
    return obj


def _digest(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    return {k: hashlib.sha256(v.cpu().numpy().tobytes()).hexdigest() for k, v in sorted(tensors.items())}


def commands(folder: str, *, out: str, seed: int = 0, n: int = N, batch_size: int = 8) -> dict[str, Any]:
    """The four commands' Python calls on the digits LeNet in ``folder/model`` (and the detector in
    ``folder/detector``) on ``n`` test inputs, reports into ``out``: each returns its figures, clocks
    left out."""
    from feint.capabilities.blackbox.run import blackbox
    from feint.capabilities.detect.run import detect as detect_eval
    from feint.capabilities.physical.measure import PhysicalSettings, physical_world
    from feint.capabilities.transfer.matrix import transfer_matrix
    from feint.capabilities.transfer.techniques import TechniqueSettings
    from feint.data import load
    from feint.detectors import load_detector
    from feint.models import load_model
    from feint.oracles import as_oracle
    from feint.training.substitute import SubstituteConfig

    model = load_model(Path(folder) / "model")
    test = load("digits", "test")
    data = test.head(n)

    def physical() -> dict[str, Any]:
        settings = PhysicalSettings(attacks=("fgsm",), eps=(0.1,), draws=1, seed=seed, batch_size=batch_size)
        result = physical_world(model, data.x, data.y, settings=settings)
        figures = no_clocks({"clean": result.clean, "attacks": result.attacks, "rows": result.destruction})
        return {**figures, "x_adv": _digest(result.adversarial)}  # x_adv: rank 0 only under torchrun

    def substitute() -> dict[str, Any]:
        return blackbox(
            as_oracle(model, access="labels"), test.x[200:230], data.x, data.y, eps=[0.1], data_info=data.info,
            config=SubstituteConfig(arch="mlp", rounds=2, epochs=2, seed=seed), out=f"{out}/blackbox",
            batch_size=batch_size, progress=False, seed=seed,
        ).data  # fmt: skip

    def matrix() -> dict[str, Any]:
        return transfer_matrix(
            load("digits", "train").head(300), data, techniques="dnn,lr,dt", out=f"{out}/matrix", progress=False,
            settings=TechniqueSettings(dnn_arch="mlp", dnn_epochs=3, seed=seed), batch_size=batch_size,
        ).data  # fmt: skip

    def detect() -> dict[str, Any]:
        detector = load_detector(Path(folder) / "detector", model)
        return detect_eval(
            detector, data.x, data.y, attacks=("fgsm", "pgd"), eps=0.1, adaptive_steps=5, seed=seed,
            batch_size=batch_size, out=f"{out}/detect",
        ).to_dict()  # fmt: skip

    return {"physical": physical, "blackbox": substitute, "matrix": matrix, "detect": detect}


def run_commands(folder: str, *, out: str) -> dict[str, Any]:
    """Every command's figures (clocks left out)."""
    return {name: no_clocks(run()) for name, run in commands(folder, out=out).items()}


def bad_starts(folder: str, rank: int) -> dict[str, str | None]:
    """Each command started with another seed on rank 1, and with fewer inputs than ranks: the error
    each raised (None: none)."""
    errors: dict[str, str | None] = {}
    for case, seed, n in (("other arguments", rank, N), ("too few inputs", 0, 1)):
        for name, run in commands(folder, out=f"{folder}/bad", seed=seed, n=n).items():
            try:
                run()
                errors[f"{name}: {case}"] = None
            except Exception as exc:
                errors[f"{name}: {case}"] = f"{type(exc).__name__}: {exc}"
    return errors


def one_thread_run(fn: Any) -> Any:
    """Per-sample figures are bit-identical at the same thread count (torchrun gives each rank one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folder(lenet_digits: nn.Module, kde_detector: Any, digits_test: Dataset, tmp_path_factory: Any) -> Path:
    root = tmp_path_factory.mktemp("commands")
    save_model(lenet_digits, root / "model", arch="lenet", data=digits_test.info.to_dict())
    kde_detector.save(root / "detector")
    return root


@pytest.mark.slow
def test_the_per_input_commands_on_two_ranks_equal_one_process_and_refuse_bad_starts(folder, tmp_path) -> None:
    alone = one_thread_run(lambda: run_commands(str(folder), out=str(tmp_path / "one")))
    ranks = launch("commands", {"folder": str(folder), "out": str(tmp_path / "two")}, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0] and all("result" in r for r in ranks), [
        r.get("traceback") for r in ranks
    ]
    two, other = ranks[0]["result"]["figures"], ranks[1]["result"]["figures"]
    assert two == alone  # every per-input figure, the adversarial inputs' bytes included
    assert other["physical"]["x_adv"] == {} and {**other, "physical": two["physical"]} == two
    assert ranks[1]["writes"] == []  # rank 0 alone writes
    written = {Path(w).relative_to(tmp_path / "two").parts[0] for w in ranks[0]["writes"]}
    assert written == {"blackbox", "matrix", "detect"}
    bad = ranks[0]["result"]["bad"]
    assert bad == ranks[1]["result"]["bad"]  # the same error on every rank
    for command in ("physical", "blackbox", "matrix", "detect"):
        assert "rank 1 has other arguments than rank 0" in str(bad[f"{command}: other arguments"])
        assert "1 " in str(bad[f"{command}: too few inputs"])
        assert "cannot be shared among 2 ranks" in str(bad[f"{command}: too few inputs"])
    assert not (folder / "bad").exists()


@pytest.mark.slow
def test_pgd_at_ensemble_at_and_distill_train_under_ddp_and_write_once(digits_train, tmp_path) -> None:
    import feint

    sources = [tmp_path / f"source{i}" for i in range(2)]
    for i, path in enumerate(sources):
        feint.train("mlp", digits_train.head(200), epochs=1, seed=i, out=path, progress=False)
    runs = tmp_path / "runs"
    ranks = launch("recipes", {"out": str(runs), "sources": [str(s) for s in sources]}, tmp_path / "results")
    assert [r["exitcode"] for r in ranks] == [0, 0] and all("result" in r for r in ranks), [
        r.get("traceback") for r in ranks
    ]
    assert ranks[0]["result"] == ranks[1]["result"]  # the same weights on every rank
    for name, result in ranks[0]["result"].items():
        assert result["losses"][1] < result["losses"][0] and result["test_accuracy"] > 0.5, (name, result)
        training = json.loads((runs / name / "config.json").read_text())["training"]
        assert training["world_size"] == 2 and training["effective_batch_size"] == 64, name
    teacher = json.loads((runs / "distill" / "teacher" / "config.json").read_text())["training"]
    assert teacher["world_size"] == 2 and teacher["effective_batch_size"] == 64
    assert ranks[1]["writes"] == []


@pytest.mark.slow
def test_torchrun_physical_from_the_command_line_equals_one_process(folder, tmp_path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    args = ["physical", "--model", str(folder / "model"), "--n-inputs", "30", "--attacks", "fgsm,bim"]
    args += ["--eps", "0.1", "--draws", "1", "--batch-size", "8", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "feint", *args, "--out", str(tmp_path / "two")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("destruction rate") == 1  # rank 0 alone prints
    one = one_thread_run(lambda: CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")]))
    assert one.exit_code == 0, one.output
    reports = [no_clocks(json.loads((tmp_path / d / "report.json").read_text())) for d in ("one", "two")]
    assert reports[0] == reports[1]
    arrays = [(tmp_path / d / "adversarial.npz").read_bytes() for d in ("one", "two")]
    assert arrays[0] == arrays[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transfer", "--source", "a", "--target", "b", "--out", "o"], "feint transfer --source/--target does not"),
        (["detect", "fit", "--model", "a", "--detector", "kde-bu", "--out", "o"], "feint detect fit does not"),
    ],
)
def test_what_is_not_shared_refuses_torchrun(monkeypatch, args, message) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.output.startswith(f"error: {message}"), result.output
