"""Metrics on hand-made tensors whose answers follow from the definitions, plus one real run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from feint.attacks import fgsm, predict_logits
from feint.errors import InputError
from feint.measure.metrics import (
    OUTCOMES,
    confusion_matrix,
    goodfellow_row,
    outcome_categories,
    outcome_counts,
    per_class_accuracy,
    perturbation_stats,
)
from feint.report.files import json_safe


def test_confusion_matrix_counts_rows_by_true_class() -> None:
    pred = torch.tensor([0, 1, 1, 2, 0])
    y = torch.tensor([0, 0, 1, 2, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    cm = confusion_matrix(pred, y, 3)
    assert cm.dtype == torch.int64
    assert torch.equal(cm, expected)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=40))
def test_confusion_matrix_margins(pairs: list[tuple[int, int]]) -> None:
    pred = torch.tensor([p for p, _ in pairs])
    y = torch.tensor([t for _, t in pairs])
    cm = confusion_matrix(pred, y, 5)
    assert torch.equal(cm.sum(1), torch.bincount(y, minlength=5))
    assert torch.equal(cm.sum(0), torch.bincount(pred, minlength=5))
    assert int(cm.trace()) == int((pred == y).sum())


def test_confusion_matrix_rejects_out_of_range_predictions() -> None:
    with pytest.raises(InputError, match="pred"):
        confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)


def test_goodfellow_row_error_rate_and_confidence_of_mistakes() -> None:
    # Softmax of [0, log 3] is [1/4, 3/4]; of [log 4, 0] is [4/5, 1/5].
    logits = torch.tensor([[0.0, math.log(3)], [math.log(4), 0.0], [5.0, 0.0], [0.0, 5.0]])
    y = torch.tensor([0, 1, 0, 1])
    error_rate, confidence = goodfellow_row(logits, y)
    assert error_rate == pytest.approx(0.5)
    assert confidence == pytest.approx((0.75 + 0.8) / 2)


def test_goodfellow_row_without_mistakes_reports_zero_confidence() -> None:
    logits = torch.tensor([[3.0, 0.0], [0.0, 2.0]])
    assert goodfellow_row(logits, torch.tensor([0, 1])) == (0.0, 0.0)
    with pytest.raises(InputError, match="adv_logits"):
        goodfellow_row(logits, torch.tensor([0, 1, 1]))


def test_per_class_accuracy_marks_absent_classes_nan() -> None:
    correct = torch.tensor([True, False, True, True])
    acc = per_class_accuracy(correct, torch.tensor([0, 0, 1, 1]), 3)
    assert acc[:2] == [0.5, 1.0]
    assert math.isnan(acc[2])
    assert json_safe(acc) == [0.5, 1.0, None]


def test_perturbation_stats_over_masked_samples() -> None:
    x = torch.zeros(3, 1, 2, 2)
    delta = torch.zeros(3, 4)
    delta[0, 0] = 0.1  # L0 1, L2 0.1, Linf 0.1
    delta[1, :2] = torch.tensor([0.3, -0.4])  # L0 2, L2 0.5, Linf 0.4
    delta[2] = 0.9  # excluded by the mask
    stats = perturbation_stats(x, x + delta.view(3, 1, 2, 2), torch.tensor([True, True, False]))
    assert stats["l0"] == pytest.approx({"median": 1.5, "mean": 1.5})
    assert stats["l2"] == pytest.approx({"median": 0.3, "mean": 0.3})
    assert stats["linf"] == pytest.approx({"median": 0.25, "mean": 0.25})


def test_perturbation_stats_ignores_tiny_changes_and_empty_masks() -> None:
    x = torch.full((2, 1, 2, 2), 0.5)
    x_adv = x.clone()
    x_adv[0, 0, 0, 0] += 1e-7
    x_adv[0, 0, 1, 1] += 0.2
    stats = perturbation_stats(x, x_adv, torch.tensor([True, False]))
    assert stats["l0"]["median"] == 1
    empty = perturbation_stats(x, x_adv, torch.tensor([False, False]))
    assert all(v is None for norm in empty.values() for v in norm.values())
    with pytest.raises(InputError, match="mask"):
        perturbation_stats(x, x_adv, torch.tensor([1, 0]))


# Clean confusion of class 0: confused with class 2 three times, with class 3 once, never with 1.
CONFUSION = torch.tensor([[5, 0, 3, 1], [0, 9, 0, 0], [1, 0, 8, 0], [0, 0, 0, 9]])
CASES = {  # name: (true class, clean logits, adversarial logits)
    "benign": (1, [5.0, 4.0, 0.0, 0.0], [4.0, 5.0, 0.0, 0.0]),
    "refocused": (0, [5.0, 4.0, 1.0, 0.0], [4.0, 5.0, 1.0, 0.0]),
    "refocused, also conatural": (0, [5.0, 1.0, 4.0, 0.0], [4.0, 0.0, 5.0, 0.0]),
    "conatural": (0, [5.0, 1.0, 2.0, 0.0], [1.0, 0.0, 5.0, 3.0]),
    "conatural second": (0, [5.0, 2.0, 0.0, 1.0], [0.0, 2.0, 1.0, 5.0]),
    "true_adversarial": (0, [5.0, 1.0, 0.0, 2.0], [0.0, 5.0, 1.0, 2.0]),
    "unchanged": (0, [5.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]),
    "unchanged mistake": (2, [5.0, 0.0, 1.0, 0.0], [5.0, 0.0, 3.0, 0.0]),
}


def _cases() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    y = torch.tensor([c[0] for c in CASES.values()])
    clean = torch.tensor([c[1] for c in CASES.values()])
    adv = torch.tensor([c[2] for c in CASES.values()])
    return clean, adv, y


def test_outcome_categories_follow_the_rules_in_order() -> None:
    codes = outcome_categories(*_cases(), CONFUSION).tolist()
    names = [OUTCOMES[c] if c >= 0 else "unchanged" for c in codes]
    assert names == [
        "benign",
        "refocused",
        "refocused",
        "conatural",
        "conatural",
        "true_adversarial",
        "unchanged",
        "unchanged",
    ]
    counts = outcome_counts(*_cases(), CONFUSION)
    assert counts == {"benign": 1, "refocused": 2, "conatural": 2, "true_adversarial": 1}


def test_outcome_top_confused_limits_the_conatural_classes() -> None:
    clean, adv, y = _cases()
    assert outcome_counts(clean, adv, y, CONFUSION, top_confused=1)["conatural"] == 1
    # Class 1 was never confused with class 0 on clean data, so a wide net still leaves it out.
    assert outcome_counts(clean, adv, y, CONFUSION, top_confused=3)["true_adversarial"] == 1
    with pytest.raises(InputError, match="confusion"):
        outcome_counts(clean, adv, y, CONFUSION[:3, :3])


def test_metrics_agree_with_a_real_fgsm_run(lenet_digits: torch.nn.Module, digits_test) -> None:
    x, y = digits_test.x[:128], digits_test.y[:128]
    clean = predict_logits(lenet_digits, x)
    result = fgsm(lenet_digits, x, y, eps=0.2)
    error_rate, confidence = goodfellow_row(result.adv_logits, y)
    assert error_rate == pytest.approx(1 - result.accuracy)
    assert error_rate > 0.3 and confidence > 0.3
    cm = confusion_matrix(clean.argmax(1), y, 10)
    counts = outcome_counts(clean, result.adv_logits, y, cm)
    assert sum(counts.values()) == int((result.adv_pred != clean.argmax(1)).sum())
    stats = perturbation_stats(x, result.x_adv, result.success)
    assert stats["linf"]["median"] == pytest.approx(0.2, abs=1e-5)
    assert 0 < stats["l0"]["mean"] <= 64


def test_json_safe_makes_everything_serialisable() -> None:
    obj = {
        "nan": float("nan"),
        "tensor": torch.tensor([1.0, float("inf")]),
        "array": np.array([[1, 2]]),
        "scalar": np.float32(0.5),
        "tuple": (1, np.int64(2)),
        3: Path("a/b"),
    }
    safe = json_safe(obj)
    assert json.loads(json.dumps(safe, allow_nan=False)) == {
        "nan": None,
        "tensor": [1.0, None],
        "array": [[1, 2]],
        "scalar": 0.5,
        "tuple": [1, 2],
        "3": "a/b",
    }
