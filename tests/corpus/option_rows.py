"""Corpus rows: command-line options and Python call options, and the budgets that are capped, not refused."""

from __future__ import annotations

import math
import time

import click
import numpy as np
import torch
from torch import nn

import feint
from corpus import Case, Ctx
from corpus import files as f
from feint.attacks import (
    apgd,
    apgd_t,
    bim,
    cw,
    deepfool,
    fgsm,
    fgsm_rs,
    ifgsm,
    jsma,
    mifgsm,
    pgd,
    rand_fgsm,
    square,
    sweep,
)
from feint.data import load
from feint.errors import DataError, InputError, ModelError, OutputError
from feint.threat import ThreatModel
from feint.training import TrainConfig

ATTACK = ("attack", "--model", "{run}", "--n", "16")
NOT_STARTED = ("feint.cli.attack.resolve_model",)


def attack(
    id: str, phrase: str, *args: str, error: type[BaseException] = InputError, defect: int | None = None
) -> Case:
    return Case(id, cli=(*ATTACK, *args), error=error, phrase=phrase, defect=defect)


ATTACK_ROWS = [
    attack("attack-unknown", "unknown attack 'nope'", "--attack", "nope"),
    attack("attack-eps-negative", "eps must be a number >= 0", "--eps", "-1"),
    attack("attack-eps-division-by-zero", "no division by 0", "--eps", "1/0", defect=5),
    attack("attack-eps-text", "comma-separated list of numbers", "--eps", "big"),
    attack("attack-eps-nan", "eps must be a number >= 0, got nan", "--eps", "nan"),
    attack("attack-eps-empty", "--eps is empty", "--eps", ","),
    attack("attack-param-no-equals", "key=value", "--param", "steps"),
    attack(
        "attack-param-flag-not-bool",
        "early_stop must be true or false",
        "--attack",
        "pgd",
        "--param",
        "early_stop=maybe",
    ),
    attack(
        "attack-param-seed-text",
        "seed must be an integer, got 'abc'",
        "--attack",
        "pgd",
        "--param",
        "seed=abc",
        defect=5,
    ),
    attack("attack-param-bounds-text", r"bounds must be \(low, high\)", "--param", "bounds=abc", defect=5),
    attack(
        "attack-jsma-bounds-text",
        r"bounds must be \(low, high\)",
        "--attack",
        "jsma",
        "--param",
        "bounds=abc",
        defect=5,
    ),
    attack("attack-param-bounds-reversed", "low < high", "--param", "bounds=[1, 0]"),
    attack("attack-param-bounds-infinite", "two finite numbers", "--param", "bounds=[0, .inf]"),
    attack(
        "attack-param-eps-and-eps",
        r"--param eps=\.\.\. and --eps both set eps",
        "--param",
        "eps=0.2",
        "--eps",
        "0.1",
        defect=5,
    ),
    attack("attack-param-norm-and-norm", "both set norm", "--attack", "pgd", "--param", "norm=2", "--norm", "inf"),
    attack("attack-param-twice", "given twice", "--attack", "pgd", "--param", "steps=2", "--param", "steps=3"),
    attack("attack-param-target", "cannot name target labels", "--param", "target=[1, 2]"),
    attack("attack-param-targeted-true", "needs target labels", "--param", "targeted=true"),
    attack("attack-param-steps-zero", "steps must be an integer >= 1", "--attack", "pgd", "--param", "steps=0"),
    attack(
        "attack-param-steps-fraction", "steps must be an integer, got 2.5", "--attack", "pgd", "--param", "steps=2.5"
    ),
    attack("attack-param-unknown", "has no parameter nosuch", "--param", "nosuch=1"),
    attack("attack-param-broken-yaml", "not a number, word or", "--param", "steps=[1,", defect=5),
    attack(
        "attack-param-step-size-inf",
        "step_size must be a finite number",
        "--attack",
        "pgd",
        "--param",
        "step_size=.inf",
    ),
    attack(
        "attack-param-alpha-over-eps",
        r"alpha must lie in \[0, eps\]",
        "--attack",
        "rand_fgsm",
        "--eps",
        "0.1",
        "--param",
        "alpha=5",
    ),
    attack("attack-param-loss-number", "unknown loss", "--attack", "apgd", "--param", "loss=3"),
    attack("attack-fixed-norm", "fixed norm", "--attack", "cw", "--norm", "inf"),
    attack("attack-unknown-norm", "unknown norm", "--attack", "pgd", "--norm", "7"),
    attack("attack-device-tpu", "unknown --device 'tpu'", "--device", "tpu", defect=5),
    attack("attack-device-cuda-absent", "no CUDA GPU is visible", "--device", "cuda:0"),
    attack("attack-targeted-bogus", "Invalid value for '--targeted'", "--targeted", "bogus", error=click.BadParameter),
    attack("attack-n-not-a-number", "'abc' is not a valid integer", "--n", "abc", error=click.BadParameter),
    Case(
        "attack-out-not-npz",
        cli=(*ATTACK, "--out", "adv.txt"),
        error=InputError,
        phrase="must end in .npz",
        forbid=NOT_STARTED,
    ),
    Case(
        "attack-out-under-a-file",
        make=lambda c: (c.tmp / "f").write_text("x"),
        cli=(*ATTACK, "--out", "f/adv.npz"),
        error=OutputError,
        phrase="lies under 'f', which is a file",
        defect=5,
        forbid=NOT_STARTED,
    ),
    Case(
        "attack-out-is-a-folder",
        make=lambda c: (c.tmp / "adv.npz").mkdir(),
        cli=(*ATTACK, "--out", "adv.npz"),
        error=OutputError,
        phrase="must be a file name, but a folder is there",
        defect=5,
        forbid=NOT_STARTED,
    ),
    Case(
        "attack-out-unwritable",
        cli=(*ATTACK, "--out", "/proc/feint/adv.npz"),
        error=OutputError,
        phrase="cannot be written",
        defect=5,
        forbid=NOT_STARTED,
    ),
]

TRAIN = ("train", "--arch", "softmax", "--epochs", "1", "--quiet")
NOT_TRAINED = ("feint.training.trainer.create_model",)


def train_row(
    id: str,
    phrase: str,
    *args: str,
    defect: int | None = None,
    error: type[BaseException] = InputError,
    make: object = None,
    forbid: tuple[str, ...] = NOT_TRAINED,
) -> Case:
    return Case(
        id,
        make=make,
        cli=(*TRAIN, *args),
        error=error,
        phrase=phrase,
        defect=defect,  # type: ignore[arg-type]
        forbid=forbid,
    )


def _other_digits(c: Ctx) -> None:
    """Data of the digits' shape and classes that is not the digits."""
    f.npz(c.tmp / "other.npz", **f.images(100, 8, classes=10, seed=3))


RESUME = ("--out", "run", "--resume")
TRAIN_ROWS = [
    train_row(
        "train-unknown-data", "unknown dataset 'imagenet'", "--data", "imagenet", "--out", "run", error=DataError
    ),
    train_row(
        "train-unknown-arch",
        "unknown architecture 'vgg99'",
        "--arch",
        "vgg99",
        "--out",
        "run",
        error=ModelError,
        forbid=(),
    ),
    train_row("train-epochs-zero", "epochs must be an integer >= 1", "--epochs", "0", "--out", "run"),
    train_row("train-batch-size-zero", "batch_size must be an integer >= 1", "--batch-size", "0", "--out", "run"),
    train_row("train-lr-negative", "lr must be a finite number >= 0", "--lr", "-1", "--out", "run"),
    train_row("train-lr-infinite", "lr must be a finite number >= 0, got inf", "--lr", "inf", "--out", "run"),
    train_row("train-unknown-optimizer", "unknown optimizer 'rmsprop'", "--optimizer", "rmsprop", "--out", "run"),
    train_row("train-unknown-adv", "unknown attack 'nope'", "--adv", "nope", "--out", "run"),
    train_row("train-adv-alpha-over-1", r"adv_alpha must lie in \[0, 1\]", "--adv-alpha", "1.5", "--out", "run"),
    train_row(
        "train-adv-param-eps-ignored",
        "--adv-param eps=... would be ignored: the attack's eps is --adv-eps",
        "--adv",
        "fgsm",
        "--adv-param",
        "eps=0.3",
        "--out",
        "run",
        defect=4,
    ),
    train_row(
        "train-adv-param-seed-ignored",
        "seed comes from the training --seed",
        "--adv",
        "pgd",
        "--adv-param",
        "seed=3",
        "--out",
        "run",
        defect=4,
    ),
    train_row(
        "train-adv-param-unknown",
        "attack 'fgsm' has no option 'steps'",
        "--adv",
        "fgsm",
        "--adv-param",
        "steps=3",
        "--out",
        "run",
        defect=4,
    ),
    train_row("train-adv-param-without-adv", "without an attack", "--adv-param", "steps=3", "--out", "run", defect=4),
    train_row(
        "train-adv-param-wrong-type",
        "steps must be an integer",
        "--adv",
        "pgd",
        "--adv-param",
        "steps=many",
        "--out",
        "run",
    ),
    train_row("train-device-tpu", "unknown --device", "--device", "tpu", "--out", "run", defect=5),
    train_row("train-seed-text", "'x' is not a valid integer", "--seed", "x", "--out", "run", error=click.BadParameter),
    train_row(
        "train-out-under-a-file",
        "which is a file, not a folder",
        "--out",
        "f/run",
        defect=5,
        make=lambda c: (c.tmp / "f").write_text("x"),
        error=OutputError,
        forbid=("feint.cli.train.load_data",),
    ),
    train_row(
        "train-out-is-a-file",
        "must be a folder, but a file is there",
        "--out",
        "f",
        defect=5,
        make=lambda c: (c.tmp / "f").write_text("x"),
        error=OutputError,
        forbid=("feint.cli.train.load_data",),
    ),
    train_row("train-out-holds-a-run", "already holds a training run", "--out", "run", make=lambda c: c.copy_run()),
    train_row(
        "train-resume-other-data",
        r"other settings \(data: 'digits' .* then, 'other' .* now",
        "--data",
        "other.npz",
        *RESUME,
        defect=4,
        make=lambda c: (c.copy_run(), _other_digits(c)),
    ),
    train_row(
        "train-resume-other-arch",
        r"arch: \"softmax\" then, \"mlp\" now",
        "--arch",
        "mlp",
        *RESUME,
        defect=4,
        make=lambda c: c.copy_run(),
    ),
    train_row(
        "train-resume-other-lr", r"lr: 0\.01 then, 0\.5 now", "--lr", "0.5", *RESUME, make=lambda c: c.copy_run()
    ),
    train_row(
        "train-arch-too-big-for-the-images",
        r"architecture 'lenet' cannot take inputs of shape \(1, 2, 2\)",
        "--arch",
        "lenet",
        "--data",
        "tiny.npz",
        "--out",
        "run",
        defect=5,
        error=ModelError,
        make=lambda c: f.npz(c.tmp / "tiny.npz", x=np.zeros((20, 2, 2), np.uint8), y=np.arange(20) % 2),
        forbid=(),
    ),
]

AUDIT = ("audit", "--model", "{run}", "--n", "8")
AUDIT_ROWS = [
    Case(
        "audit-preset-bogus",
        cli=(*AUDIT, "--preset", "bogus", "--out", "a"),
        error=click.BadParameter,
        phrase="'bogus' is not one of",
    ),
    Case(
        "audit-eps-inf",
        cli=(*AUDIT, "--eps", "0,inf", "--out", "a"),
        error=InputError,
        phrase="eps must be finite in an audit",
    ),
    Case(
        "audit-eps-negative",
        cli=(*AUDIT, "--eps", "-0.1", "--out", "a"),
        error=InputError,
        phrase="every eps must be a number >= 0",
    ),
    Case(
        "audit-norm-1", cli=(*AUDIT, "--norm", "1", "--out", "a"), error=click.BadParameter, phrase="'1' is not one of"
    ),
    Case(
        "audit-out-under-a-file",
        make=lambda c: (c.tmp / "f").write_text("x"),
        cli=(*AUDIT, "--out", "f/a"),
        error=OutputError,
        phrase="which is a file, not a folder",
        defect=5,
        forbid=("feint.cli.audit.resolve_model",),
    ),
    Case(
        "audit-no-model",
        cli=("audit", "--model", "nope/run", "--out", "a"),
        error=ModelError,
        phrase="no model directory",
    ),
    Case(
        "audit-data-of-another-shape",
        make=lambda c: f.npz(c.tmp / "d.npz", **f.images(10, 12)),
        cli=(*AUDIT, "--data", "d.npz", "--split", "all", "--out", "a"),
        error=InputError,
        phrase="trained on digits inputs",
    ),
    Case(
        "audit-missing-out", cli=("audit", "--model", "{run}"), error=click.UsageError, phrase="Missing option '--out'"
    ),
]

DEMO_ROWS = [
    Case(
        "demo-preset-bogus-before-training",
        cli=("demo", "--preset", "bogus", "--out", "d"),
        error=click.BadParameter,
        phrase="'bogus' is not one of",
        defect=6,
        forbid=("feint.cli.demo.train",),
    ),
    Case(
        "demo-out-under-a-file",
        make=lambda c: (c.tmp / "f").write_text("x"),
        cli=("demo", "--out", "f/d"),
        error=OutputError,
        phrase="which is a file",
        defect=5,
        forbid=("feint.cli.demo.train",),
    ),
    Case(
        "demo-device-tpu",
        cli=("demo", "--device", "tpu", "--out", "d"),
        error=InputError,
        phrase="unknown --device",
        forbid=("feint.cli.demo.train",),
    ),
]


def _xy(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    data = load("digits", "test")
    return data.x[:n].clone(), data.y[:n].clone()


def _linear(classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, classes))


def _blind() -> nn.Module:
    """A linear model that ignores the top row of pixels (as models do with the digits' blank border):
    its gradient there is exactly 0, and 0 * inf is NaN."""
    model = _linear()
    with torch.no_grad():
        model[1].weight[:, :8] = 0
    return model


def py(id: str, call: object, phrase: str, error: type[BaseException] = InputError, defect: int | None = None) -> Case:
    return Case(id, call=call, error=error, phrase=phrase, defect=defect)  # type: ignore[arg-type]


X, Y = _xy()
PY_ROWS = [
    py("py-x-nan", lambda c: fgsm(_linear(), X.clone().fill_(math.nan), Y, eps=0.1), "x contains NaN"),
    py("py-x-uint8", lambda c: fgsm(_linear(), (X * 255).to(torch.uint8), Y, eps=0.1), "float pixels"),
    py("py-x-3d", lambda c: fgsm(_linear(), X[:, 0], Y, eps=0.1), "NCHW"),
    py("py-x-empty", lambda c: fgsm(_linear(), X[:0], Y[:0], eps=0.1), "empty batch"),
    py("py-x-not-a-tensor", lambda c: fgsm(_linear(), X.numpy(), Y, eps=0.1), "must be a torch.Tensor"),
    py("py-x-out-of-bounds", lambda c: fgsm(_linear(), X * 2, Y, eps=0.1), "outside the bounds"),
    py("py-y-float", lambda c: fgsm(_linear(), X, Y.float(), eps=0.1), "integer class indices"),
    py("py-y-out-of-range", lambda c: fgsm(_linear(), X, Y + 10, eps=0.1), "labels must lie in"),
    py("py-y-short", lambda c: fgsm(_linear(), X, Y[:3], eps=0.1), "one class index per input"),
    py("py-eps-negative", lambda c: fgsm(_linear(), X, Y, eps=-0.1), "eps must be a number >= 0"),
    py("py-eps-text", lambda c: fgsm(_linear(), X, Y, eps="0.1"), "eps must be a number >= 0"),
    py("py-eps-bool", lambda c: fgsm(_linear(), X, Y, eps=True), "eps must be a number >= 0"),
    py("py-bounds-reversed", lambda c: fgsm(_linear(), X, Y, eps=0.1, bounds=(1, 0)), "low < high"),
    py(
        "py-bounds-infinite",
        lambda c: fgsm(_linear(), X, Y, eps=0.1, bounds=(0, math.inf)),
        "two finite numbers",
        defect=5,
    ),
    py(
        "py-bounds-text",
        lambda c: fgsm(_linear(), X, Y, eps=0.1, bounds="ab"),
        r"bounds must be \(low, high\)",
        defect=5,
    ),
    py("py-targeted-without-target", lambda c: fgsm(_linear(), X, Y, eps=0.1, targeted=True), "needs target labels"),
    py("py-target-without-targeted", lambda c: fgsm(_linear(), X, Y, eps=0.1, target=Y), "targeted=False"),
    py(
        "py-target-out-of-range",
        lambda c: fgsm(_linear(), X, Y, eps=0.1, targeted=True, target=Y + 10),
        "target has labels",
    ),
    py("py-pgd-steps-zero", lambda c: pgd(_linear(), X, Y, eps=0.1, steps=0), "steps must be an integer >= 1"),
    py(
        "py-pgd-step-size-inf",
        lambda c: pgd(_linear(), X, Y, eps=0.1, step_size=math.inf),
        "step_size must be a finite number",
    ),
    py(
        "py-mifgsm-decay-inf",
        lambda c: mifgsm(_linear(), X, Y, eps=0.1, decay=math.inf),
        "decay must be a finite number",
    ),
    py(
        "py-rand-fgsm-alpha-over-capped-eps",
        lambda c: rand_fgsm(_linear(), X, Y, eps=5.0, alpha=3.0),
        r"alpha must lie in \[0, eps\] = \[0, 1\] \(eps 5 is capped at the bounds' range\)",
        defect=1,
    ),
    py("py-jsma-gamma-too-small", lambda c: jsma(_linear(), X, Y, gamma=0.01), "raise gamma"),
    py("py-jsma-theta-zero", lambda c: jsma(_linear(), X, Y, theta=0), "theta must be"),
    py("py-cw-lr-zero", lambda c: cw(_linear(), X, Y, lr=0.0), "lr must be > 0"),
    py("py-deepfool-targeted", lambda c: deepfool(_linear(), X, Y, targeted=True, target=Y), "untargeted only"),
    py("py-square-l1", lambda c: square(_linear(), X, Y, eps=1.0, norm="1"), "'inf' and '2'"),
    py("py-apgd-unknown-loss", lambda c: apgd(_linear(), X, Y, eps=0.1, loss="xx"), "unknown loss"),
    py(
        "py-apgd-t-three-classes",
        lambda c: apgd_t(_linear(3), X, Y % 3, eps=0.1),
        r"apgd-t needs at least 4 classes .* use apgd-ce",
        defect=6,
    ),
    py("py-sweep-no-eps", lambda c: sweep("fgsm", _linear(), X, Y, eps=[]), "non-empty sequence"),
    py(
        "py-audit-eps-inf", lambda c: feint.audit(_linear(), X, Y, eps=[math.inf], progress=False), "finite in an audit"
    ),
    py("py-audit-norm-1", lambda c: feint.audit(_linear(), X, Y, norm="1", progress=False), "unknown audit norm"),
    py("py-threat-norm", lambda c: ThreatModel("l7", 0.1), "unknown norm"),
    py(
        "py-train-config-adv-eps",
        lambda c: TrainConfig(adv="fgsm", adv_params={"eps": 0.3}),
        "would be ignored",
        defect=4,
    ),
    py(
        "py-train-test-other-shape",
        lambda c: feint.train(
            "softmax", load("digits", "train").head(20), _resized(load("digits", "test").head(5)), progress=False
        ),
        "does not match the training data",
        defect=5,
    ),
    py(
        "py-train-diverges",
        lambda c: feint.train(
            "softmax",
            load("digits", "train").head(256),
            lr=1e37,
            optimizer="sgd",
            epochs=2,
            batch_size=16,
            progress=False,
        ),
        "training diverged in epoch 1",
    ),
]


def _resized(data: feint.data.Dataset) -> feint.data.Dataset:
    from dataclasses import replace

    x = torch.nn.functional.interpolate(data.x, size=(6, 6))
    return replace(data, x=x, info=replace(data.info, input_shape=(1, 6, 6)))


def _finite_and_inside(eps: float) -> object:
    def check(c: Ctx, result: object) -> None:
        r = result  # an AttackResult
        assert bool(torch.isfinite(r.x_adv).all()) and float(r.x_adv.min()) >= 0 and float(r.x_adv.max()) <= 1
        assert float(r.distance.max()) <= eps
        logits = feint.attacks.predict_logits(_blind(), r.x_adv)
        assert torch.equal(logits.argmax(1) != r.y, r.success)

    return check


def _quick_bim(c: Ctx) -> object:
    t0 = time.perf_counter()
    result = bim(_blind(), X, Y, eps=1e6, early_stop=False)
    assert time.perf_counter() - t0 < 30, "the derived schedule must stay bounded (at most 319 steps)"
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
            "--n",
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
    Case("budget-bim-eps-1e6-bounded-schedule", call=_quick_bim, check=_finite_and_inside(1e6), defect=1),
    *(
        Case(
            f"budget-{fn.__name__}-eps-inf",
            call=lambda c, fn=fn, kw=kw: fn(_blind(), X, Y, eps=math.inf, **kw),
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

ROWS = ATTACK_ROWS + TRAIN_ROWS + AUDIT_ROWS + DEMO_ROWS + PY_ROWS + BUDGET_ROWS
