"""Corpus rows: options of `feint attack` (parsing, types, conflicts, devices, outputs)."""

from __future__ import annotations

import click

from corpus import Case
from feint.errors import InputError, OutputError

ATTACK = ("attack", "--model", "{run}", "--n-inputs", "16")
NOT_STARTED = ("feint.cli.attack.resolve",)


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
    attack("attack-n-not-a-number", "'abc' is not a valid integer", "--n-inputs", "abc", error=click.BadParameter),
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


ROWS = ATTACK_ROWS
