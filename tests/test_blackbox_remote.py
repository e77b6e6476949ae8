"""The substitute attack and transfer against query-only targets, as a user runs them: a real
``feint serve --output label`` subprocess over HTTP (127.0.0.1, a free port, always stopped), an
ONNX file through onnxruntime and a scikit-learn model from a skops file. Every query the attack
makes is counted by the target's own counter (and, over HTTP, by the server)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from helpers import export_onnx
from serving import feint_server

from feint.capabilities.transfer.techniques import one_blas_thread
from feint.cli import main
from feint.models import save_model

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_torch_thread_per_module")]

SMALL = ["--data", "digits", "--substitute", "mlp", "--rounds", "3", "--epochs", "5", "--max-queries", "500"]
SMALL += ["--eps", "0.1,0.3", "--n", "120", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(lenet_digits, digits_train, tmp_path_factory) -> Path:
    return save_model(
        lenet_digits, tmp_path_factory.mktemp("remote") / "lenet", arch="lenet", data=digits_train.info.to_dict()
    )


def _blackbox(target: str, out: Path) -> dict:
    result = CliRunner().invoke(main, ["blackbox", "--target", target, *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text())


def _served_queries(base: str) -> int:
    return int(httpx.get(f"{base}/v2/models/lenet/stats", timeout=10).json()["queries"])


def _fools_beyond_noise(report: dict) -> None:
    t = report["transfer"]
    assert t["error_rate"][-1] > 0.5 and t["error_rate"][-1] > 2 * t["noise_error_rate"][-1], t


@pytest.mark.slow
def test_substitute_attack_over_http_equals_the_same_run_in_process(run_dir, tmp_path) -> None:
    with feint_server("--model", str(run_dir), "--name", "lenet", "--output", "label") as (base, _):
        before = _served_queries(base)
        remote = _blackbox(f"{base}/v2/models/lenet", tmp_path / "http")
        served = _served_queries(base) - before
    local = _blackbox(str(run_dir), tmp_path / "local")
    assert remote["target"]["access"] == "labels" and remote["target"]["name"].endswith("/v2/models/lenet")
    assert remote["transfer"] == local["transfer"] and remote["rounds"] == local["rounds"]
    q = remote["queries"]
    assert q["training"] == 500 == local["queries"]["training"]
    assert served == q["oracle_counted"] == q["training"] + q["measurement"] == local["queries"]["oracle_counted"]
    _fools_beyond_noise(remote)
    assert (tmp_path / "http" / "substitute" / "weights.safetensors").is_file()


@pytest.fixture(scope="module")
def model_files(lenet_digits, digits_train, tmp_path_factory) -> dict[str, Path]:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("files")
    export_onnx(lenet_digits, folder / "lenet.onnx")
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore")
        est = LogisticRegression(max_iter=300).fit(digits_train.x.flatten(1).numpy(), digits_train.y.numpy())
    sio.dump(est, folder / "lr.skops")
    return {"onnx": folder / "lenet.onnx", "skops": folder / "lr.skops"}


@pytest.mark.parametrize("kind", ["onnx", "skops"])
def test_substitute_attack_on_a_model_file(model_files, kind, tmp_path) -> None:
    report = _blackbox(str(model_files[kind]), tmp_path / kind)
    q = report["queries"]
    assert report["target"]["access"] == "labels" and report["target"]["name"] == model_files[kind].name
    assert q["training"] == 500 and q["oracle_counted"] == q["training"] + q["measurement"]
    _fools_beyond_noise(report)


def test_transfer_to_a_scikit_learn_file(run_dir, model_files, tmp_path) -> None:
    args = ["transfer", "--source", str(run_dir), "--target", str(model_files["skops"]), "--data", "digits"]
    args += ["--attack", "ifgsm", "--steps", "1", "--eps", "0.3", "--n", "100", "--quiet", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["target"] == {"name": "lr.skops", "access": "labels"}
    assert report["queries"]["target"] == 100 * 3  # clean, T=1 at one eps, noise at one eps
    lenet_on_lr = report["curves"][0]["target_accuracy"][0]
    assert lenet_on_lr < report["noise"]["target_accuracy"][0] - 0.2  # crafted on a CNN, fools the LR


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lr_10.skops", "takes 100 features"),
        ("http://127.0.0.1:9/v2/models/none", "127.0.0.1:9"),
    ],
)
def test_query_only_target_that_does_not_fit_is_one_line(spec, message, digits_train, tmp_path) -> None:
    if spec.endswith(".skops"):
        import numpy as np
        import skops.io as sio
        from sklearn.tree import DecisionTreeClassifier

        rng = np.random.default_rng(0)
        est = DecisionTreeClassifier().fit(rng.random((50, 100)), np.arange(50) % 10)
        spec = str(tmp_path / spec)
        sio.dump(est, spec)
    result = CliRunner().invoke(main, ["blackbox", "--target", spec, *SMALL, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and result.output.count("\n") == 1
    assert message in result.output
