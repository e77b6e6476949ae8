"""``feint audit --threat patch:AREA``: robust accuracy against a patch beside the norm-ball curves."""

from __future__ import annotations

import pytest

from feint.capabilities.audit.run import audit
from feint.capabilities.audit.schema import REPORT_SCHEMA
from feint.errors import InputError
from feint.measure.patch_threat import parse_threat
from feint.oracles import as_oracle
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_audit_measures_robust_accuracy_against_a_patch(lenet_digits, digits_test):
    data = digits_test.head(40)
    report = audit(lenet_digits, data, eps=[0.1], preset="quick", threats=["patch:0.25"], seed=0)
    assert validate(report.to_dict(), REPORT_SCHEMA) == []
    (row,) = report["patch"]["areas"]
    assert row["area"] == 0.25 and row["side"] == 4
    # the worst case of both patches is below each part and below the clean accuracy
    assert row["robust_accuracy"] <= min(row["universal_accuracy"], row["per_input_accuracy"])
    assert row["robust_accuracy"] < report["patch"]["clean_accuracy"] - 0.2  # a quarter of an 8x8 digit breaks it
    assert "Accuracy against a patch" in report.html and "robust accuracy" in report.summary()


@pytest.mark.parametrize("text", ["patch", "patch:1.5", "patch:0", "blob:0.1", "patch:big"])
def test_a_bad_threat_is_one_clear_error(text, lenet_digits, digits_test):
    with pytest.raises(InputError, match=r"patch:|strictly between 0 and 1"):
        parse_threat(text)
    with pytest.raises(InputError):
        audit(lenet_digits, digits_test.head(4), eps=[0.1], preset="quick", threats=[text])


def test_a_query_only_model_gets_no_patch_threat(lenet_digits, digits_test):
    with pytest.raises(InputError, match="torch model"):
        audit(as_oracle(lenet_digits, access="scores"), digits_test.head(4), eps=[0.1], threats=["patch:0.1"])
