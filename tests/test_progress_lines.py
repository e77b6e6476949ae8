"""On a terminal a long run leaves one line per milestone (the bars are erased when done)."""

from __future__ import annotations

import sys

import pytest

from feint.attacks.sweep import sweep
from feint.data import Dataset
from feint.training import train


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)


def test_training_on_a_terminal_leaves_a_line_per_epoch(
    terminal: None, digits_train: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    train("softmax", digits_train.head(128), epochs=2, lr=1e-2, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2: loss" in err and "epoch 2/2: loss" in err


def test_a_sweep_on_a_terminal_leaves_a_line_per_eps(
    terminal: None, softmax_digits, digits_test: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = digits_test.x[:20], digits_test.y[:20]
    sweep("fgsm", softmax_digits, x, y, eps=[0.05, 0.1], progress=True)
    err = capsys.readouterr().err
    assert "fgsm: eps 0.05 done" in err and "fgsm: eps 0.1 done" in err
    sweep("fgsm", softmax_digits, x, y, eps=[0.05])
    assert capsys.readouterr().err == ""
