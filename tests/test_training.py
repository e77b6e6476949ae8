"""Training: accuracy, reproducibility, checkpoints and resume, the adversarial hook."""

from __future__ import annotations

import pytest
import torch

from feint.errors import InputError
from feint.models import load_model
from feint.training import TrainConfig, train
from feint.training import checkpoint as ckpt_module


def test_lenet_reaches_95_percent_on_digits(digits_train, digits_test, tmp_path):
    result = train("lenet", digits_train, digits_test, epochs=10, lr=2e-3, out=tmp_path / "run", progress=False)
    assert result.test_accuracy is not None and result.test_accuracy >= 0.95
    assert len(result.history) == 10
    reloaded = load_model(tmp_path / "run")
    with torch.no_grad():
        assert torch.equal(reloaded(digits_test.x), result.model(digits_test.x))


def test_training_is_reproducible_under_a_seed(digits_train):
    small = digits_train.head(256)
    a = train("mlp", small, epochs=2, seed=3, progress=False).model
    b = train("mlp", small, epochs=2, seed=3, progress=False).model
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_interrupted_run_resumes_to_the_same_weights(digits_train, tmp_path, monkeypatch):
    small = digits_train.head(300)
    reference = train("mlp", small, epochs=4, seed=1, out=tmp_path / "ref", progress=False).model

    real_save = ckpt_module.save_checkpoint
    calls = {"n": 0}

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("feint.training.trainer.save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train("mlp", small, epochs=4, seed=1, out=tmp_path / "run", progress=False)
    monkeypatch.setattr("feint.training.trainer.save_checkpoint", real_save)
    assert not (tmp_path / "run" / "weights.safetensors").exists()
    resumed = train("mlp", small, epochs=4, seed=1, out=tmp_path / "run", resume=True, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    for pa, pb in zip(reference.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_resume_with_other_settings_is_refused(digits_train, tmp_path):
    small = digits_train.head(128)
    train("mlp", small, epochs=1, out=tmp_path / "run", progress=False)
    with pytest.raises(InputError, match="other settings"):
        train("mlp", small, epochs=2, lr=0.5, out=tmp_path / "run", resume=True, progress=False)


def test_fgsm_adversarial_training_raises_fgsm_accuracy(digits_train, digits_test):
    from feint.attacks import fgsm

    plain = train("mlp", digits_train, epochs=6, seed=0, progress=False).model
    robust = train(
        "mlp", digits_train, epochs=6, seed=0, recipe="goodfellow", recipe_options={"eps": 0.1}, progress=False
    ).model
    x, y = digits_test.x, digits_test.y
    plain_acc = fgsm(plain, x, y, eps=0.1).accuracy
    robust_acc = fgsm(robust, x, y, eps=0.1).accuracy
    assert robust_acc > plain_acc + 0.1


def test_fast_fgsm_rs_training_raises_fgsm_rs_accuracy(digits_train, digits_test):
    from feint.attacks import fgsm_rs

    plain = train("mlp", digits_train, epochs=6, seed=0, progress=False).model
    options = {"eps": 0.1, "alpha": 0.0, "attack": "fgsm_rs"}
    fast = train(
        "mlp", digits_train, epochs=6, seed=0, recipe="goodfellow", recipe_options=options, progress=False
    ).model
    x, y = digits_test.x, digits_test.y
    assert fgsm_rs(fast, x, y, eps=0.1, seed=0).accuracy > fgsm_rs(plain, x, y, eps=0.1, seed=0).accuracy + 0.1


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"lr": -1.0},
        {"optimizer": "rmsprop"},
        {"recipe": "goodfellow", "recipe_options": {"attack": "no-such-attack"}},
        {"recipe": "goodfellow", "recipe_options": {"alpha": 1.5}},
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(InputError):
        TrainConfig(**bad)


def test_unknown_setting_is_refused(digits_train):
    with pytest.raises(InputError, match="unknown training setting"):
        train("mlp", digits_train.head(10), epochz=3, progress=False)


def test_training_into_a_used_folder_is_refused_unless_asked(digits_train, tmp_path):
    small = digits_train.head(128)
    first = train("mlp", small, epochs=1, out=tmp_path / "run", progress=False)
    weights = (tmp_path / "run" / "weights.safetensors").read_bytes()
    with pytest.raises(InputError, match=r"already holds a training run.*--resume.*--overwrite"):
        train("mlp", small, epochs=1, seed=5, out=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "weights.safetensors").read_bytes() == weights
    again = train("mlp", small, epochs=1, seed=5, out=tmp_path / "run", overwrite=True, progress=False)
    assert [h["epoch"] for h in again.history] == [1]
    assert not torch.equal(next(first.model.parameters()), next(again.model.parameters()))


def test_a_log_gets_one_line_per_epoch_instead_of_bars(digits_train, digits_test, capsys):
    train("mlp", digits_train.head(128), digits_test.head(32), epochs=2, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("loss" in line and "test accuracy" in line for line in lines)
    train("mlp", digits_train.head(128), epochs=1, progress=False)
    assert capsys.readouterr().err == ""
