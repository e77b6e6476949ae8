"""Defense recipes: sources of other data and bad Python settings are refused with one clear error
before anything trains (the command line's bad settings are rows of tests/corpus/recipe_rows.py);
the CLI records every recipe setting in config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from feint.cli import main
from feint.defenses import FastAT, make_recipe
from feint.errors import InputError
from feint.training import TrainConfig, train


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny undefended digits run, to serve as an ensemble source."""
    out = tmp_path_factory.mktemp("src") / "digits"
    args = ["train", "--arch", "softmax", "--epochs", "1", "--out", str(out), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    return out


@pytest.fixture(scope="module")
def other_data(tmp_path_factory: pytest.TempPathFactory, digits_test) -> dict[str, Path]:
    """Other datasets as .npz files: the digits test set under another name, and (same name) its first 3 classes."""
    import numpy as np

    root = tmp_path_factory.mktemp("other")
    keep = digits_test.y < 3
    (root / "three").mkdir()
    files = {"other": root / "other.npz", "three": root / "three" / "other.npz"}
    np.savez(files["other"], x=digits_test.x.numpy(), y=digits_test.y.numpy())
    np.savez(files["three"], x=digits_test.x[keep].numpy(), y=digits_test.y[keep].numpy())
    return files


def test_sources_of_other_data_are_refused_before_training(tmp_path: Path, digits_run: Path, other_data) -> None:
    three = tmp_path / "three-classes"
    args = ["train", "--data", str(other_data["three"]), "--arch", "softmax", "--epochs", "1", "--out", str(three)]
    assert CliRunner().invoke(main, [*args, "--quiet"]).exit_code == 0
    out = tmp_path / "run"
    cases = [
        (f"{digits_run},{digits_run}", "was trained on digits, but this run trains on other"),
        (f"{three},{three}", "predicts 3 classes but other has 10"),
    ]
    for sources, message in cases:
        data_args = ["--data", str(other_data["other"])]
        args = ["train", *data_args, "--recipe", "ensemble-at", "--sources", sources, "--out", str(out), "--quiet"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not out.exists()


def test_recipe_settings_are_checked_in_python_too() -> None:
    with pytest.raises(InputError, match="takes no option temperature"):
        make_recipe("fast-at", {"temperature": 3})
    with pytest.raises(InputError, match="needs eps > 0"):
        FastAT(eps=0.0)
    with pytest.raises(InputError, match="options either in the recipe object or in recipe_options"):
        TrainConfig(recipe=FastAT(eps=0.1), recipe_options={"eps": 0.2})
    with pytest.raises(InputError, match="without a recipe"):
        TrainConfig(recipe_options={"eps": 0.2})


def test_cli_saves_every_recipe_setting_and_reports_robust_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--recipe", "pgd-at", "--adv-eps", "0.2", "--steps", "3", "--epochs", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "robust test accuracy" in result.output
    epoch_line = next(line for line in result.output.splitlines() if line.startswith("epoch 1/1"))
    assert "test accuracy" in epoch_line and "robust accuracy" in epoch_line and "eps 0.2" in epoch_line
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "convnet"
    training = config["training"]
    assert training["recipe"] == "pgd-at"
    assert training["recipe_options"] == {"eps": 0.2, "steps": 3, "step_size": None}
    assert training["history"][0]["robust_eps"] == 0.2


def test_fast_at_defaults_are_the_recipes() -> None:
    cfg = TrainConfig(recipe="fast-at")
    assert (cfg.epochs, cfg.lr, cfg.batch_size) == (
        FastAT.train_defaults["epochs"],
        FastAT.train_defaults["lr"],
        FastAT.train_defaults["batch_size"],
    )
    assert TrainConfig(recipe="fast-at", epochs=2).epochs == 2
    assert TrainConfig().epochs == 10


def test_a_recipe_object_and_its_name_give_the_same_run(digits_train) -> None:
    small = digits_train.head(128)
    a = train("mlp", small, epochs=1, recipe=FastAT(eps=0.1, guard=False), progress=False)
    b = train("mlp", small, epochs=1, recipe="fast-at", recipe_options={"eps": 0.1, "guard": False}, progress=False)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert pa.equal(pb)
