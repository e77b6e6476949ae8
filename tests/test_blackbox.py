"""``feint.blackbox`` / ``feint blackbox``: the substitute attack end to end, its report, the saved
substitute, resuming between rounds, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import feint.capabilities.blackbox.run as bb
import feint.capabilities.blackbox.substitute as trained
from feint.capabilities.blackbox.report import REPORT_SCHEMA
from feint.cli import main
from feint.errors import InputError
from feint.models import load_model, save_model
from feint.oracles import as_oracle
from feint.report.schema import validate
from feint.training.substitute import SubstituteConfig

CONFIG = SubstituteConfig(arch="mlp", rounds=4, epochs=8)

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


def _split(digits_test):
    x, y = digits_test.x, digits_test.y
    return x[:150], x[150:], y[150:]


@pytest.fixture(scope="module")
def run(lenet_digits, digits_test, tmp_path_factory):
    out = tmp_path_factory.mktemp("blackbox")
    seeds, x, y = _split(digits_test)
    oracle = as_oracle(lenet_digits, access="labels")
    report = bb.blackbox(
        oracle, seeds, x, y, config=CONFIG, eps=[0.1, 0.3], data_info=digits_test.info, out=out, progress=False
    )
    return out, report, oracle


def test_transferred_fgsm_fools_the_target_far_more_than_noise(run):
    _, report, oracle = run
    r = report.data
    assert validate(r, REPORT_SCHEMA) == []
    error, noise = r["transfer"]["error_rate"], r["transfer"]["noise_error_rate"]
    assert error[1] > 0.8 and error[1] > 3 * noise[1], r["transfer"]
    assert error[0] > 2 * noise[0], r["transfer"]
    assert r["queries"]["training"] == 150 * 2**3 == r["rounds"][-1]["queries"]
    assert oracle.queries == r["queries"]["training"] + r["queries"]["measurement"]
    assert [x["round"] for x in r["rounds"]] == [0, 1, 2, 3]


def test_report_files_and_the_substitute_run_directory(run, digits_test):
    out = run[0]
    saved = json.loads((out / "report.json").read_text())
    assert saved["schema"] == "feint.blackbox/1" and validate(saved, REPORT_SCHEMA) == []
    html = (out / "report.html").read_text()
    assert "Substitute training" in html and "data:image/png;base64" in html and "http" not in html.split("<body>")[1]
    substitute = load_model(out / "substitute")
    agreement = saved["rounds"][-1]["agreement"]
    x = digits_test.x[150:]
    oracle_labels = as_oracle(load_model(out / "substitute"), access="labels").labels(x)
    assert torch.equal(substitute(x).argmax(1), oracle_labels)
    assert json.loads((out / "substitute" / "config.json").read_text())["training"]["training_queries"] == 1200
    assert agreement is not None and agreement > 0.8


def test_an_interrupted_run_resumes_between_rounds_and_ends_the_same(lenet_digits, digits_test, tmp_path, monkeypatch):
    seeds, x, y = _split(digits_test)
    seeds, x, y = seeds[:40], x[:60], y[:60]
    config = SubstituteConfig(arch="softmax", rounds=4, epochs=3)
    common = {"config": config, "eps": [0.1, 0.3], "progress": False}
    whole = bb.blackbox(as_oracle(lenet_digits, access="labels"), seeds, x, y, out=tmp_path / "whole", **common)
    real_save = trained.save_state

    def interrupting_save(out, fp, state, labels, labelling):
        real_save(out, fp, state, labels, labelling)
        if len(state.records) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trained, "save_state", interrupting_save)
    with pytest.raises(KeyboardInterrupt):
        bb.blackbox(as_oracle(lenet_digits, access="labels"), seeds, x, y, out=tmp_path / "cut", **common)
    monkeypatch.setattr(trained, "save_state", real_save)
    oracle = as_oracle(lenet_digits, access="labels")
    resumed = bb.blackbox(oracle, seeds, x, y, out=tmp_path / "cut", **common)
    assert any("resumed 2 finished substitute rounds" in n for n in resumed.notes)
    measurement = 60 * 2 * 2  # the held-out labels were saved; adversarial and noise inputs are asked again
    assert oracle.queries == (320 - 160) + measurement  # only round 3's new points were asked again
    assert resumed["rounds"] == whole["rounds"]
    assert resumed["transfer"] == whole["transfer"]
    assert resumed["queries"] == whole["queries"]  # the saved state carries what was spent
    ignored = {"timings", "substitute", "created", "feint_version", "git", "host"}
    assert {k: v for k, v in resumed.data.items() if k not in ignored} == {
        k: v for k, v in whole.data.items() if k not in ignored
    }


def test_bad_inputs_are_one_clear_error(lenet_digits, digits_test):
    seeds, x, y = _split(digits_test)
    oracle = as_oracle(lenet_digits, access="labels")
    with pytest.raises(InputError, match="also among the inputs"):
        bb.blackbox(oracle, x[:10], x, y, config=CONFIG, progress=False)
    with pytest.raises(InputError, match="empty"):
        bb.blackbox(oracle, seeds[:0], x, y, config=CONFIG, progress=False)
    with pytest.raises(InputError, match="same dataset"):
        bb.blackbox(oracle, torch.rand(5, 1, 28, 28), x, y, config=CONFIG, progress=False)
    with pytest.raises(InputError, match="as_oracle"):
        bb.blackbox(lenet_digits, seeds, x, y, config=CONFIG, progress=False)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unknown attack"):
        bb.blackbox(oracle, seeds, x, y, config=CONFIG, attack="nope", progress=False)
    assert oracle.queries == 0


@pytest.fixture(scope="module")
def target_dir(lenet_digits, digits_train, tmp_path_factory):
    out = tmp_path_factory.mktemp("target") / "lenet"
    return save_model(lenet_digits, out, arch="lenet", data=digits_train.info.to_dict())


def test_cli_writes_the_report_and_the_substitute(target_dir, tmp_path):
    out = tmp_path / "bb"
    args = ["blackbox", "--target", str(target_dir), "--data", "digits", "--substitute", "mlp", "--rounds", "3"]
    args += [
        "--lambda",
        "0.1",
        "--max-queries",
        "500",
        "--epochs",
        "5",
        "--eps",
        "0.1,0.3",
        "--n",
        "100",
        "--out",
        str(out),
        "--quiet",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "target error" in result.output and "budget 500" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["queries"]["training"] == 500 and len(report["rounds"]) == 3
    assert report["data"]["n"] == 100 and report["data"]["n_seed"] == 150
    assert (out / "substitute" / "weights.safetensors").is_file()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "resumed 3 finished substitute rounds" in again.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lambda", "0"], "lambda"),
        (["--max-queries", "100"], "smaller than |S0| = 150"),
        (["--seed-size", "0"], "--seed-size must be an integer >= 1, got 0"),
        (["--seed-size", "400"], "leaves none"),
        (["--data", "SMALL"], "shape"),
        (["--data", "OTHER"], "was trained on digits but --data is other"),
        (["--substitute", "nope"], "unknown substitute architecture"),
        (["--attack", "nope"], "unknown attack"),
    ],
)
def test_cli_bad_input_is_one_line(target_dir, tmp_path, extra, message):
    rng = np.random.default_rng(0)
    for name, side in (("SMALL", 10), ("OTHER", 8)):
        path = tmp_path / f"{name.lower()}.npz"
        np.savez(path, x=rng.random((60, side, side), dtype=np.float32), y=np.arange(60) % 10)
        extra = [str(path) if e == name else e for e in extra]
    args = [
        "blackbox",
        "--target",
        str(target_dir),
        "--data",
        "digits",
        "--rounds",
        "2",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    result = CliRunner().invoke(main, [*args, *extra])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1


def test_a_scikit_learn_target_is_attacked_through_its_labels(digits_train, digits_test):
    from sklearn.linear_model import LogisticRegression

    from feint.capabilities.transfer.techniques import flat, one_blas_thread, technique_oracle

    with one_blas_thread():
        target = LogisticRegression(max_iter=300).fit(flat(digits_train.x), digits_train.y.numpy())
    oracle = technique_oracle(target, input_shape=(1, 8, 8), num_classes=10, name="logistic regression")
    seeds, x, y = _split(digits_test)
    config = SubstituteConfig(arch="mlp", rounds=3, epochs=8)
    r = bb.blackbox(oracle, seeds, x, y, config=config, eps=[0.2], progress=False).data
    assert r["target"]["name"] == "logistic regression" and r["queries"]["training"] == 600
    assert (
        r["transfer"]["error_rate"][0] > 3 * r["transfer"]["noise_error_rate"][0]
        and r["transfer"]["error_rate"][0] > 0.5
    )


@pytest.mark.parametrize("attack", ["pgd", "mifgsm"])
def test_any_white_box_attack_on_the_saved_substitute(run, digits_test, tmp_path, attack):
    import shutil

    shutil.copytree(run[0] / "blackbox_state", tmp_path / "blackbox_state")
    seeds, x, y = _split(digits_test)
    oracle = as_oracle(run[2].model, access="labels")
    r = bb.blackbox(
        oracle,
        seeds,
        x,
        y,
        config=CONFIG,
        attack=attack,
        attack_params={"steps": 10},
        eps=[0.1],
        out=tmp_path,
        progress=False,
    )
    assert oracle.queries == 2 * x.shape[0]  # nothing retrained: only the adversarial and noisy inputs are asked
    assert r["settings"]["attack"] == attack and r["rounds"] == run[1]["rounds"]
    assert r["transfer"]["error_rate"][0] > 2 * r["transfer"]["noise_error_rate"][0]
