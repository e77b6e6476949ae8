"""Gradient-masking checks, eps defaults and the report schema validator, piece by piece."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import ScaledLogits
from torch import Tensor, nn

from feint.capabilities.audit import checks as ck
from feint.capabilities.audit.presets import get_preset
from feint.capabilities.audit.schema import REPORT_SCHEMA
from feint.errors import InputError
from feint.measure.defaults import default_eps
from feint.report.schema import validate


class Noisy(nn.Module):
    """A randomised 'defence': fresh noise on every pass."""

    def __init__(self, model: nn.Module, scale: float) -> None:
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return out + self.scale * torch.randn_like(out)


def test_saturated_softmax_has_zero_gradients_and_warns(lenet_digits: nn.Module, digits_test) -> None:
    x, y = digits_test.x[:64], digits_test.y[:64]
    assert ck.check_gradients(lenet_digits, x, y).status == "pass"
    flagged = ck.check_gradients(ScaledLogits(lenet_digits, 1e4), x, y)
    assert flagged.status == "warn"
    assert "zero" in flagged.detail


def test_randomised_outputs_are_flagged(lenet_digits: nn.Module, digits_test) -> None:
    x = digits_test.x[:64]
    assert ck.check_deterministic(lenet_digits, x).status == "pass"
    assert ck.check_deterministic(Noisy(lenet_digits, 1e-3), x).status == "warn"
    assert ck.check_deterministic(Noisy(lenet_digits, 100.0), x).status == "fail"


def test_count_checks_tolerate_one_percent_and_no_more() -> None:
    eps = [0.0, 0.1, 0.2]
    assert ck.check_single_step([0, 1, 1], eps, 100).status == "pass"
    warn = ck.check_single_step([0, 0, 5], eps, 100)
    assert warn.status == "warn" and "eps=0.2" in warn.detail
    assert ck.check_black_box([0, 2, 0], eps, 1000, "square").status == "pass"
    assert ck.check_black_box([0, 12, 0], eps, 1000, "square").status == "warn"
    assert ck.check_noise([0, 0, 0], eps, 50).status == "pass"
    assert ck.check_noise([0, 3, 0], eps, 50).status == "warn"


def test_unbounded_and_monotone_verdicts() -> None:
    assert ck.check_unbounded(100, 100, "fmn").status == "pass"
    assert ck.check_unbounded(95, 100, "fmn").status == "warn"
    assert ck.check_unbounded(40, 100, "fmn").status == "fail"
    eps = [0.0, 0.1, 0.2]
    assert ck.check_monotone({"worst-case": [0.9, 0.5, 0.1]}, eps, 100).status == "pass"
    rising = ck.check_monotone({"fgsm": [0.9, 0.5, 0.7]}, eps, 100)
    assert rising.status == "warn" and "fgsm" in rising.detail


def test_default_eps_grids() -> None:
    assert max(default_eps("digits")) == pytest.approx(0.3)
    assert max(default_eps("mnist")) == pytest.approx(0.3)
    assert max(default_eps("fashion-mnist")) == pytest.approx(0.2)
    assert max(default_eps("cifar10")) == pytest.approx(16 / 255)
    assert max(default_eps("mnist", "2")) == pytest.approx(2.0)
    assert max(default_eps("cifar10", "l2")) == pytest.approx(1.0)
    for grid in (default_eps("digits"), default_eps("unknown", bounds=(-1.0, 1.0))):
        assert grid[0] == 0.0 and list(grid) == sorted(grid)
    assert default_eps("unknown", bounds=(-1.0, 1.0))[-1] == pytest.approx(2 * default_eps("unknown")[-1])


def test_presets_and_bad_names() -> None:
    standard = {a.name: a.params for a in get_preset("standard").attacks}
    assert {"fgsm", "apgd-ce", "apgd-t", "fmn", "square"} <= set(standard)
    assert [a.name for a in get_preset("quick").attacks] == ["pgd", "fgsm"]
    thorough = {a.name: a.params for a in get_preset("thorough").attacks}
    assert thorough["apgd-ce"]["steps"] > standard["apgd-ce"]["steps"]
    assert thorough["square"]["n_queries"] > standard["square"]["n_queries"]
    with pytest.raises(InputError, match="preset"):
        get_preset("fast")


def test_presets_adapt_to_the_task() -> None:
    import feint.attacks
    import feint.attacks.fmn
    import feint.attacks.square  # noqa: F401  (registers the attacks)

    binary = [a.name for a in get_preset("standard").for_task("inf", 2).attacks]
    assert "apgd-t" not in binary and "apgd-ce" in binary  # targeted DLR needs 4 classes
    assert [a.name for a in get_preset("standard").for_task("2", 10).attacks] == [
        a.name for a in get_preset("standard").attacks
    ]


def test_schema_validator_finds_problems() -> None:
    good = {
        "schema": "feint.audit/2",
        "checks": [{"name": "a", "status": "pass", "detail": "ok"}],
    }
    sub = {"type": "object", "properties": {k: v for k, v in _schema_props().items() if k in good}}
    assert validate(good, sub) == []
    bad = copy.deepcopy(good)
    bad["checks"][0]["status"] = "maybe"
    bad["schema"] = "other/2"
    errors = validate(bad, sub)
    assert any("$.checks[0].status" in e for e in errors) and any("$.schema" in e for e in errors)
    assert any("missing key 'eps'" in e for e in validate(good, REPORT_SCHEMA))


def _schema_props() -> dict:
    from feint.capabilities.audit.schema import REPORT_SCHEMA

    return REPORT_SCHEMA["properties"]
