"""The audit's late gauge: APGD notes when it broke each input, and an untargeted attack still
breaking inputs late in its budget makes the standard audit escalate with more iterations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import feint
from feint.attacks import apgd
from feint.attacks.apgd import apgd_t
from feint.capabilities.audit.presets import AttackPlan, Preset
from feint.data import Dataset
from feint.errors import InputError


@pytest.fixture(scope="module")
def data(digits_test: Dataset) -> Dataset:
    return digits_test.head(64)


def test_apgd_notes_when_it_broke_each_input(lenet_digits: nn.Module, data: Dataset) -> None:
    res = apgd(lenet_digits, data.x, data.y, eps=0.1, steps=10, restarts=2, seed=0)
    assert res.found_at is not None and bool(res.success.any())
    broke = res.found_at[res.success]
    assert bool((broke > 0).all()) and bool((broke <= 1).all())
    assert bool(torch.isinf(res.found_at[~res.success]).all())
    # the multiples of 1 / (steps x restarts) it can take, and some after the first step
    assert torch.allclose(broke * 20, (broke * 20).round())
    assert float(broke.max()) > 1 / 20
    targeted = apgd_t(lenet_digits, data.x, data.y, eps=0.1, steps=5, n_target_classes=3, seed=0)
    assert targeted.found_at is not None and bool((targeted.found_at[targeted.success] <= 1).all())


def _preset(steps: int, threshold: float = 1e-9) -> Preset:
    """APGD-CE alone as the late gauge, and a two-rung ladder whose second rung opens on it."""
    return Preset(
        "late",
        (AttackPlan("apgd-ce", "white-box", {"steps": steps}, gauge="late"),),
        escalation=(
            AttackPlan("fgsm", "white-box", label="fgsm rung"),
            AttackPlan("apgd-ce", "white-box", {"steps": 40, "restarts": 2}, label="apgd-ce x2", opens_on=("late",)),
        ),
        gain_threshold=threshold,
    )


def test_an_attack_still_breaking_inputs_late_makes_the_audit_escalate(lenet_digits, digits_test) -> None:
    # The whole test split at eps 0.1: a 4-step APGD breaks 10-20 of its inputs in its second half on
    # LeNets trained with other seeds or CPUs, where 64 inputs at 0.05 left some machines with none.
    data = digits_test
    eps = (0.0, 0.1)
    report = feint.audit(lenet_digits, data.x, data.y, eps=eps, preset=_preset(4), data_info=data.info, progress=False)
    d = report.to_dict()
    late = d["escalation"]["reasons"]
    assert late and all(r["triggers"] == ["late"] for r in late)
    assert all("in the second half of its iterations" in r["reasons"][0] for r in late)
    rungs = {r["attack"]: r for r in d["escalation"]["rungs"]}
    # the late-opened rung runs even where the rung before it broke nothing
    assert rungs["apgd-ce x2"]["eps"] == [r["eps"] for r in late]
    assert d["worst_case"]["accuracy"][1] <= d["attacks"]["apgd-ce"]["accuracy"][1]


def test_fewer_late_breaks_than_the_threshold_leave_the_audit_as_it_is(lenet_digits, data) -> None:
    report = feint.audit(
        lenet_digits, data.x, data.y, eps=(0.0, 0.05), preset=_preset(4, 0.99), data_info=data.info, progress=False
    )
    escalation = report.to_dict()["escalation"]
    assert not escalation["escalated"] and escalation["reasons"] == [] and escalation["rungs"] == []


def test_a_bad_gauge_or_trigger_is_refused() -> None:
    with pytest.raises(InputError, match="gauge"):
        AttackPlan("apgd-ce", gauge="sometimes")
    with pytest.raises(InputError, match="escalation trigger"):
        AttackPlan("apgd-ce", opens_on=("always",))
