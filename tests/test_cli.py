"""The command line: train, attack, one-line errors with exit code 2, resume."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from feint.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = CliRunner().invoke(
        main, ["train", "--arch", "lenet", "--epochs", "6", "--lr", "0.003", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "clean test accuracy" in result.output
    return out


def test_train_writes_a_run_directory(run_dir):
    assert (run_dir / "config.json").is_file() and (run_dir / "weights.safetensors").is_file()


def test_attack_prints_goodfellow_figures_and_saves_npz(run_dir, tmp_path):
    out = tmp_path / "adv.npz"
    result = CliRunner().invoke(
        main,
        ["attack", "--model", str(run_dir), "--data", "digits", "--attack", "fgsm", "--eps", "0.2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    clean = float(lines["clean accuracy"])
    adversarial = float(lines["adversarial accuracy"])
    assert adversarial < clean
    assert 0 < float(lines["mean confidence on misclassified adversarial inputs"]) <= 1
    saved = np.load(out)
    assert saved["x_adv"].shape == saved["x"].shape
    assert np.abs(saved["x_adv"] - saved["x"]).max() <= 0.2 + 1e-6


def test_resume_continues_an_interrupted_training(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--arch", "mlp", "--epochs", "2", "--out", str(out), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    longer = CliRunner().invoke(main, [*args[:4], "3", *args[5:], "--resume"])
    assert longer.exit_code == 0, longer.output
    import json

    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2, 3]
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already holds a training run" in again.output


def test_interrupt_names_how_to_resume(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("feint.cli.train.train", interrupted)
    result = CliRunner().invoke(main, ["train", "--arch", "mlp", "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 130
    assert "add --resume to the same command" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "imagenet", "--out", "x"], "unknown dataset 'imagenet'"),
        (["train", "--arch", "vgg99", "--out", "x"], "unknown architecture"),
        (["train", "--epochs", "0", "--out", "x"], "epochs must be an integer >= 1"),
        (["attack", "--model", "no/such/run"], "no model directory"),
        (["attack", "--model", "{run}", "--attack", "nope"], "unknown attack 'nope'"),
        (["attack", "--model", "{run}", "--eps", "-1"], "eps must be a number >= 0"),
        (["attack", "--model", "{run}", "--param", "steps"], "key=value"),
        (["attack", "--model", "{run}", "--attack", "pgd", "--param", "early_stop=maybe"], "true or false"),
        (["attack", "--model", "{run}", "--attack", "cw", "--norm", "inf"], "fixed norm"),
        (["attack", "--model", "{run}", "--attack", "pgd", "--norm", "7"], "unknown norm"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(run_dir, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{run}", str(run_dir)) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    err = result.stderr if result.stderr_bytes is not None else result.output
    assert message in err
    assert err.strip().count("\n") == 0


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "feint", "train", "--data", "nope", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown dataset")


def test_attack_list_shows_every_registered_attack_with_defaults():
    from feint.attacks.registry import ATTACKS

    result = CliRunner().invoke(main, ["attack", "--list"])
    assert result.exit_code == 0
    for name, spec in ATTACKS.items():
        assert f"{name} " in result.output
        assert spec.summary in result.output


def test_attack_sweeps_several_eps_and_minimum_norm_attacks(run_dir):
    result = CliRunner().invoke(
        main, ["attack", "--model", str(run_dir), "--attack", "fmn", "--eps", "0,0.1,0.3", "--n-inputs", "40"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    accuracies = [float(r[1]) for r in rows]
    assert len(accuracies) == 3 and accuracies[0] >= accuracies[1] >= accuracies[2]


def test_a_run_is_refused_data_of_another_shape(run_dir, tmp_path):
    x = np.random.default_rng(0).random((6, 1, 12, 12), dtype=np.float32)
    np.savez(tmp_path / "other.npz", x=x, y=np.arange(6))
    for command in (["attack", "--attack", "fgsm", "--eps", "0.1"], ["audit", "--out", str(tmp_path / "a")]):
        result = CliRunner().invoke(main, [*command, "--model", str(run_dir), "--data", str(tmp_path / "other.npz")])
        assert result.exit_code == 2, result.output
        assert "trained on digits inputs of shape (1, 8, 8)" in result.output and "(1, 12, 12)" in result.output


def test_attack_takes_the_norm_as_an_option(run_dir):
    # --n is the old spelling of --n-inputs: it still works outside torchrun
    args = ["attack", "--model", str(run_dir), "--attack", "pgd", "--eps", "0.5", "--norm", "2", "--n", "40"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.splitlines() if ": " in line)
    assert float(lines["median perturbation (2 norm)"]) <= 0.5 + 1e-5


def _own_npz(tmp_path, count: int = 50):
    from feint.data import load

    digits = load("digits", "all")
    path = tmp_path / "mine.npz"
    np.savez(path, x=digits.x[:count].numpy(), y=digits.y[:count].numpy())
    return path


def test_attack_uses_your_own_data_whole_and_names_the_norm(run_dir, tmp_path):
    """A user's .npz is attacked whole (50 of 50 inputs, not a 20% test split) unless --split is given;
    the attack's norm is printed before it runs."""
    path = _own_npz(tmp_path)
    base = ["attack", "--model", str(run_dir), "--data", str(path), "--attack", "fgsm", "--eps", "0.1"]
    whole = CliRunner().invoke(main, base)
    assert whole.exit_code == 0, whole.output
    assert "attack: fgsm under the Linf norm  inputs: 50" in whole.output
    assert whole.output.index("attack: fgsm") < whole.output.index("adversarial accuracy")
    split = CliRunner().invoke(main, [*base, "--split", "test"])
    assert split.exit_code == 0 and "inputs: 10" in split.output, split.output
    named = CliRunner().invoke(main, ["attack", "--model", str(run_dir), "--attack", "fgsm", "--eps", "0.1"])
    assert "inputs: 360" in named.output  # a named dataset: its test split, as before


def test_own_data_a_run_was_trained_on_is_not_measured_whole(tmp_path):
    path = _own_npz(tmp_path, 100)
    run = tmp_path / "run"
    args = ["train", "--data", str(path), "--arch", "softmax", "--epochs", "1", "--out", str(run), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    res = CliRunner().invoke(main, ["attack", "--model", str(run), "--data", str(path), "--eps", "0.1"])
    assert res.exit_code == 2 and "pass --split test" in res.output, res.output
    res = CliRunner().invoke(
        main, ["attack", "--model", str(run), "--data", str(path), "--eps", "0.1", "--split", "test"]
    )
    assert res.exit_code == 0 and "inputs: 20" in res.output, res.output


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["blackbox", "--out", "x"], "--target"),
        (["audit", "--model", "m"], "--out"),
        (["attack"], "--model"),
        (["fool", "--out", "x"], "--model"),
    ],
)
def test_a_required_option_left_out_is_named(args, missing):
    """A required option is required (an explicit default=None would make click 8.3 pass None on)."""
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and f"Missing option '{missing}'" in res.output, res.output
