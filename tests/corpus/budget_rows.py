"""Corpus rows: infinite and absurd budgets, capped at the bounds' range (the ball then holds the whole box), not refused."""

from __future__ import annotations

import math

import numpy as np
import torch

import feint
from corpus import Case, Ctx
from corpus.attack_option_rows import ATTACK
from corpus.models import blind, digits_batch
from feint.attacks import (
    apgd,
    bim,
    fgsm,
    fgsm_rs,
    ifgsm,
    mifgsm,
    pgd,
    rand_fgsm,
    square,
)

X, Y = digits_batch()


def _finite_and_inside(eps: float) -> object:
    def check(c: Ctx, result: object) -> None:
        r = result  # an AttackResult
        assert bool(torch.isfinite(r.x_adv).all()) and float(r.x_adv.min()) >= 0 and float(r.x_adv.max()) <= 1
        assert float(r.distance.max()) <= eps
        logits = feint.attacks.predict_logits(blind(), r.x_adv)
        assert torch.equal(logits.argmax(1) != r.y, r.success)

    return check


def _bounded_bim(c: Ctx) -> object:
    """Kurakin et al.'s schedule derives min(eps + 4, 1.25 eps) steps from eps in grey levels: 259 once
    eps is capped at the bounds' range (2.5e8 for eps=1e6 uncapped, which never returns)."""
    result = bim(blind(), X, Y, eps=1e6, early_stop=False)
    assert result.queries == 259 * len(Y)
    return result


def _npz_finite(c: Ctx, _: object) -> None:
    saved = np.load(c.tmp / "adv.npz")
    assert np.isfinite(saved["x_adv"]).all() and saved["x_adv"].min() >= 0 and saved["x_adv"].max() <= 1


# Infinite and absurd budgets are capped at the bounds' range (the ball then holds the whole box), not refused.
BUDGET_ROWS = [
    Case(
        "budget-cli-rand-fgsm-eps-inf",
        cli=(*ATTACK, "--attack", "rand_fgsm", "--eps", "inf", "--param", "early_stop=false", "--out", "adv.npz"),
        exit_code=0,
        check=_npz_finite,
        defect=1,
    ),
    Case(
        "budget-cli-bim-eps-1e6",
        cli=(
            "attack",
            "--model",
            "{run}",
            "--n-inputs",
            "4",
            "--attack",
            "bim",
            "--eps",
            "1e6",
            "--param",
            "early_stop=false",
            "--out",
            "adv.npz",
        ),
        exit_code=0,
        check=_npz_finite,
        defect=1,
    ),
    Case("budget-bim-eps-1e6-bounded-schedule", call=_bounded_bim, check=_finite_and_inside(1e6), defect=1),
    *(
        Case(
            f"budget-{fn.__name__}-eps-inf",
            call=lambda c, fn=fn, kw=kw: fn(blind(), X, Y, eps=math.inf, **kw),
            check=_finite_and_inside(math.inf),
            defect=1,
        )
        for fn, kw in [
            (fgsm, {}),
            (ifgsm, {"early_stop": False}),
            (pgd, {"early_stop": False}),
            (mifgsm, {"early_stop": False}),
            (rand_fgsm, {"early_stop": False}),
            (apgd, {"early_stop": False}),
            (square, {}),
            (fgsm_rs, {}),
        ]
    ),
]


ROWS = BUDGET_ROWS
