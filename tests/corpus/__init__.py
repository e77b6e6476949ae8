"""The bad-input corpus: one table row per bad input a user can give feint.

A row names a fixture generator (files written into the row's own temporary folder, never a blob
kept in git), the command line or the Python call that meets it, and the outcome: the error class,
a phrase of its message (a regular expression), exit code 2 with one line ``error: ...`` on stderr,
and no file written. ``tests/test_bad_input_corpus.py`` runs every row.

To add rows for a new command, append :class:`Case` entries to one of the ``*_rows.py`` modules
here (or a new one listed in :data:`ROW_MODULES`). Placeholders in ``cli`` arguments: ``{run}``
(a trained digits run directory, read-only), ``{tmp}`` (the row's folder, also the working directory).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feint.errors import FeintError

ROW_MODULES = (
    "npz_rows",
    "dataset_rows",
    "model_dir_rows",
    "user_model_rows",
    "attack_option_rows",
    "command_rows",
    "python_rows",
    "budget_rows",
    "interrupt_rows",
    "transfer_rows",
    "fool_physical_rows",
    "distributed_rows",
    "detector_rows",
    "blackbox_rows",
    "recipe_rows",
    "model_file_rows",
    "serve_rows",
    "option_rows",
    "resume_rows",
    "certify_rows",
)


@dataclass
class Ctx:
    """What a row's generator and call see: its own folder and a trained run directory (read-only)."""

    tmp: Path
    run: Path

    def copy_run(self, name: str = "run") -> Path:
        """A writable copy of the trained run directory inside the row's folder."""
        target = self.tmp / name
        shutil.copytree(self.run, target)
        return target


@dataclass(frozen=True)
class Case:
    """One bad input and what must come of it.

    ``make`` writes the fixtures; exactly one of ``cli`` (argv, with placeholders) and ``call`` (a
    Python call) meets them. ``error`` and ``phrase`` (a regex) describe the error; a CLI row exits
    with ``exit_code`` and prints one line. ``check`` turns a row into an outcome row (exit 0 or a
    returned value, then ``check(ctx, outcome)``); such rows may write files. ``patch`` replaces
    dotted names for the row (e.g. to interrupt); ``forbid`` names work that must not even start.
    ``defect`` tags rows that pin one of issue 8's defect classes (1-6).
    """

    id: str
    make: Callable[[Ctx], Any] | None = None
    cli: tuple[str, ...] | None = None
    call: Callable[[Ctx], Any] | None = None
    error: type[BaseException] = FeintError
    phrase: str = ""
    exit_code: int = 2
    defect: int | None = None
    forbid: tuple[str, ...] = ()
    patch: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Ctx, Any], None] | None = None

    def __post_init__(self) -> None:
        if (self.cli is None) == (self.call is None):
            raise ValueError(f"corpus row {self.id}: give exactly one of cli= and call=")


def rows() -> list[Case]:
    """Every row of every row module, in order; ids must be unique."""
    import importlib

    found: list[Case] = []
    for name in ROW_MODULES:
        found += importlib.import_module(f"corpus.{name}").ROWS
    ids = [c.id for c in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate corpus row ids: {duplicates}")
    return found
