"""The same defaults from Python and from the command line (issue 21, point 8): for every option a
command passes on to its capability's function, the option's default is the function's default.

A command joins by appending a :class:`Pair` to :data:`PAIRS`: its click command, the function, and
for each option the function's parameter name and how the option's text becomes that value.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import pytest


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in _names(text))


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Pair:
    id: str
    command: str  # "module:NAME" of the click command
    function: str  # "module:NAME" of the capability's function
    options: dict[str, tuple[str, Callable[[Any], Any]]]  # click parameter -> (function parameter, convert)


PAIRS = [
    Pair(
        "physical",
        "feint.cli.physical:physical_command",
        "feint.capabilities.physical.run:physical",
        {
            "attacks": ("attacks", _names),
            "eps": ("eps", _floats),
            **{name: (name, _same) for name in ("draws", "eot", "eot_samples", "eot_steps", "seed", "batch_size")},
            "sheet_count": ("sheet", _same),
        },
    ),
    Pair(
        "fool",
        "feint.cli.fool:fool_command",
        "feint.capabilities.fooling.run:fool",
        {
            name: (name, _same)
            for name in ("method", "generations", "population", "max_queries", "start", "l2", "blur_sigma", "seed")
        },
    ),
    Pair(
        "detect",
        "feint.cli.detect:eval_command",
        "feint.capabilities.detect.run:detect",
        {
            "attacks": ("attacks", _names),
            "eps": ("eps", float),
            **{name: (name, _same) for name in ("adaptive", "kappa", "adaptive_steps", "seed", "batch_size")},
        },
    ),
]


def _load(dotted: str) -> Any:
    module, name = dotted.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("pair", PAIRS, ids=[p.id for p in PAIRS])
def test_every_option_default_is_the_functions_default(pair: Pair) -> None:
    command: click.Command = _load(pair.command)
    context = click.Context(command)
    options = {p.name: p.get_default(context) for p in command.params}
    signature = inspect.signature(_load(pair.function)).parameters
    for option, (parameter, convert) in pair.options.items():
        assert option in options, f"{pair.id}: no option {option}"
        assert convert(options[option]) == signature[parameter].default, (pair.id, option)
    assert signature["progress"].default is False
