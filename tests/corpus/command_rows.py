"""Corpus rows: options of `feint train`, `feint audit` and `feint demo`."""

from __future__ import annotations

import click
import numpy as np

from corpus import Case, Ctx
from corpus import files as f
from feint.errors import DataError, InputError, ModelError, OutputError

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
    train_row(
        "train-adv-alpha-over-1",
        r"alpha .* must lie in \[0, 1\]",
        "--adv",
        "fgsm",
        "--adv-alpha",
        "1.5",
        "--out",
        "run",
    ),
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
    train_row(
        "train-adv-param-without-adv",
        "--adv-param set options of a defense recipe",
        "--adv-param",
        "steps=3",
        "--out",
        "run",
        defect=4,
    ),
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
    train_row("train-seed-text", "--seed must be an integer >= 0", "--seed", "x", "--out", "run"),
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

AUDIT = ("audit", "--model", "{run}", "--n-inputs", "8")
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
        forbid=("feint.cli.audit.resolve",),
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


ROWS = TRAIN_ROWS + AUDIT_ROWS + DEMO_ROWS
