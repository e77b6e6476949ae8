"""Defensive distillation at T = 100 on digits: FGSM and JSMA (the paper's softmax form) mostly fail
against the student, while the standard audit breaks it, warns, and escalates — and does not
escalate on a plain model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import feint
from feint.attacks import fgsm, jsma
from feint.data import Dataset

EPS = (0.0, 0.1, 0.2, 0.3)


@pytest.fixture(scope="module")
def distilled(distilled_digits: nn.Module) -> nn.Module:
    return distilled_digits


@pytest.fixture(scope="module")
def correct(distilled: nn.Module, digits_test: Dataset) -> Dataset:
    """The test inputs the student classifies correctly."""
    with torch.no_grad():
        keep = distilled(digits_test.x).argmax(1) == digits_test.y
    assert keep.float().mean() > 0.85
    return Dataset(digits_test.x[keep], digits_test.y[keep], digits_test.info, "test")


@pytest.mark.slow
def test_student_saturates_and_fgsm_and_jsma_mostly_fail(distilled: nn.Module, correct: Dataset) -> None:
    with torch.no_grad():
        confidence = distilled(correct.x).softmax(1).amax(1)
    assert (confidence > 0.999).float().mean() > 0.9  # near-saturated softmax at T = 1
    assert fgsm(distilled, correct.x, correct.y, eps=0.2).success_rate < 0.25
    few = slice(0, 60)
    assert jsma(distilled, correct.x[few], correct.y[few], space="probs", seed=0).success_rate < 0.25
    # The logit form of JSMA (Carlini & Wagner 2016) is not fooled by the saturation.
    assert jsma(distilled, correct.x[few], correct.y[few], space="logits", seed=0).success_rate > 0.4


@pytest.mark.slow
def test_standard_audit_breaks_distillation_warns_and_escalates(distilled: nn.Module, digits_test: Dataset) -> None:
    data = digits_test.head(200)
    report = feint.audit(distilled, data.x, data.y, eps=EPS, data_info=data.info, progress=False)
    d = report.to_dict()
    fgsm_at = dict(zip(d["eps"], d["attacks"]["fgsm"]["accuracy"], strict=True))
    worst_at = dict(zip(d["eps"], d["worst_case"]["accuracy"], strict=True))
    assert fgsm_at[0.2] > 0.7 * report["clean_accuracy"]  # FGSM barely dents it
    assert worst_at[0.2] < 0.1  # the audit does not believe it
    warned = {c["name"] for c in report["checks"] if c["status"] != "pass"}
    assert "gradients are non-zero and finite" in warned
    escalation = d["escalation"]
    assert escalation["escalated"]
    assert any("gradients are non-zero" in why for r in escalation["reasons"] for why in r["reasons"])
    assert escalation["rungs"][0]["attack"] == "apgd-t #3-9"
    assert "escalated at eps" in report.summary()


def test_no_escalation_on_a_plain_model(lenet_digits: nn.Module, digits_test: Dataset) -> None:
    data = digits_test.head(200)
    report = feint.audit(lenet_digits, data.x, data.y, eps=EPS, data_info=data.info, progress=False)
    d = report.to_dict()
    assert not d["escalation"]["escalated"] and d["escalation"]["rungs"] == []
    assert set(d["attacks"]) == {"fmn", "apgd-ce", "apgd-t", "apgd-t #2", "square", "fgsm"}
    assert "escalated" not in report.summary()
