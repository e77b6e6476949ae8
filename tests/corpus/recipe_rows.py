"""Corpus rows: defense recipes of `feint train` (issue 11) — each bad setting is one error before anything trains.

Sources trained on other data are refused too (tests/test_defense_inputs.py, which trains such sources)."""

from __future__ import annotations

import re

from corpus import Case
from feint.errors import InputError

TRAIN = ("train", "--epochs", "1", "--quiet", "--out", "run")
NOT_TRAINED = ("feint.training.trainer.create_model",)


def recipe_row(id: str, message: str, *args: str) -> Case:
    """``message`` is matched literally."""
    return Case(id, cli=(*TRAIN, *args), error=InputError, phrase=re.escape(message), forbid=NOT_TRAINED)


ROWS = [
    recipe_row(
        "recipe-unknown",
        "unknown recipe 'madry'; choose one of distill, ensemble-at, fast-at, gaussian-noise, goodfellow",
        "--recipe",
        "madry",
    ),
    recipe_row("recipe-pgd-at-eps-zero", "pgd-at needs eps > 0", "--recipe", "pgd-at", "--adv-eps", "0"),
    recipe_row("recipe-fast-at-eps-negative", "fast-at needs eps > 0", "--recipe", "fast-at", "--adv-eps", "-0.1"),
    recipe_row(
        "recipe-alpha-over-1",
        "alpha (the weight of the clean loss) must lie in [0, 1]",
        "--recipe",
        "goodfellow",
        "--adv-alpha",
        "1.5",
    ),
    recipe_row("recipe-alpha-negative", "must lie in [0, 1]", "--recipe", "goodfellow", "--adv-alpha", "-0.5"),
    recipe_row(
        "recipe-temperature-zero",
        "temperature must be a finite number > 0",
        "--recipe",
        "distill",
        "--temperature",
        "0",
    ),
    recipe_row(
        "recipe-temperature-negative",
        "temperature must be a finite number > 0",
        "--recipe",
        "distill",
        "--temperature",
        "-3",
    ),
    recipe_row(
        "recipe-distill-eps", "--adv-eps does not apply to recipe 'distill'", "--recipe", "distill", "--adv-eps", "0.1"
    ),
    recipe_row(
        "recipe-fast-at-temperature",
        "--temperature does not apply to recipe 'fast-at'",
        "--recipe",
        "fast-at",
        "--temperature",
        "10",
    ),
    recipe_row("recipe-pgd-at-beta", "--beta does not apply to recipe 'pgd-at'", "--recipe", "pgd-at", "--beta", "6"),
    recipe_row(
        "recipe-trades-sources", "--sources does not apply to recipe 'trades'", "--recipe", "trades", "--sources", "a,b"
    ),
    recipe_row(
        "recipe-unknown-param",
        "--recipe-param gamma does not apply",
        "--recipe",
        "fast-at",
        "--recipe-param",
        "gamma=2",
    ),
    recipe_row(
        "recipe-option-without-recipe",
        "--adv-eps set options of a defense recipe; choose one with --recipe",
        "--adv-eps",
        "0.1",
    ),
    recipe_row(
        "recipe-ensemble-no-sources", "ensemble-at needs 2 to 5 static source models", "--recipe", "ensemble-at"
    ),
    recipe_row(
        "recipe-ensemble-missing-sources",
        "--sources no/such/a, no/such/b: no feint run",
        "--recipe",
        "ensemble-at",
        "--sources",
        "no/such/a,no/such/b",
    ),
    recipe_row(
        "recipe-ensemble-unknown-method",
        "unknown ensemble-at method 'pgd'",
        "--recipe",
        "ensemble-at",
        "--method",
        "pgd",
        "--sources",
        "x,y",
    ),
]
