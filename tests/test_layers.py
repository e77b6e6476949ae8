"""The layout's floors, kept by import-linter (the contracts in pyproject.toml's [tool.importlinter]):
a module imports only the floors below its own, no capability imports another, and there is no
import circle between sibling packages or modules. A broken floor fails here with import-linter's
account of the offending import chain."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import feint

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def test_lint_imports_keeps_every_contract() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), f"{lint} is missing: pip install -e '.[dev]' installs import-linter"
    # this checkout's feint first on the path (a worktree or a clean clone beside an installed copy)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout, done.stdout[-3000:]
    kinds = {c["type"] for c in _contracts()}
    assert kinds == {"layers", "independence", "acyclic_siblings"}


def test_every_top_level_module_sits_on_a_floor() -> None:
    """A new package or module must be given a floor, or the layers contract would not see it."""
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    placed = {name.strip() for floor in layers["layers"] for name in floor.split("|")}
    found = {f"feint.{m.name}" for m in pkgutil.iter_modules(feint.__path__)} - {"feint.__main__"}
    assert found - placed == set(), f"give these a floor in [tool.importlinter]: {sorted(found - placed)}"
    assert placed - found == set(), f"these floors name nothing: {sorted(placed - found)}"
