"""The bad-input corpus: every row of ``tests/corpus`` gets its one clear error, and nothing is written.

Each row runs in its own temporary folder (also the working directory): the fixture generator
writes the damaged files, then the command line (through click's runner, as ``feint ...``) or the
Python call meets them. An error row must raise the row's error class with its phrase; on the
command line that is exit code 2 (130 for Ctrl-C) and exactly one line on stderr; either way no
file may appear or change anywhere in the row's folder or the shared run directory. Outcome rows
(``check=``) must succeed and pass their check. Add rows in ``tests/corpus/*_rows.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from corpus import Case, Ctx, rows

from feint.cli import main
from feint.training import train

ROWS = rows()
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, digits_train, digits_test) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "run"
    train("softmax", digits_train, digits_test, epochs=2, lr=0.01, out=out, progress=False)
    return out


@pytest.fixture(scope="module", autouse=True)
def every_feint_module_imported() -> None:
    """Import all of feint before any row patches a name: a module first imported while a name is
    patched (``from feint.x import name`` at its top) would keep the patch for the rest of the session."""
    import feint

    for module in pkgutil.walk_packages(feint.__path__, "feint."):
        if not module.name.endswith("__main__"):  # that one runs the command line
            importlib.import_module(module.name)


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folders``, with its size and modification time."""
    seen = {}
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file():
                st = p.stat()
                seen[str(p)] = (st.st_size, st.st_mtime_ns)
    return seen


def _forbidden(name: str) -> Any:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError(f"{name} ran, but the bad input should have been refused before any work")

    return refuse


def _run_cli(case: Case, ctx: Ctx) -> Any:
    args = [a.format(run=ctx.run, tmp=ctx.tmp) for a in case.cli or ()]
    result = CliRunner().invoke(main, args, env=case.env or None)
    if case.check is not None:
        assert result.exit_code == case.exit_code, result.output + repr(result.exception)
        return result
    assert result.exit_code == case.exit_code, (result.exit_code, result.output, result.exception)
    err = result.stderr.strip()
    assert err.count("\n") == 0, f"more than one line on stderr:\n{err}"
    assert err.startswith("error:") or case.exit_code == 130, err
    assert re.search(case.phrase, err.removeprefix("error: ")), f"{case.phrase!r} not in {err!r}"
    cause = result.exception.__context__ if result.exception is not None else None
    assert isinstance(cause, case.error), f"expected {case.error.__name__}, got {type(cause).__name__}: {cause}"
    return result


def _run_call(case: Case, ctx: Ctx) -> Any:
    assert case.call is not None
    if case.check is not None:
        return case.call(ctx)
    with pytest.raises(case.error) as err:
        case.call(ctx)
    assert re.search(case.phrase, str(err.value)), f"{case.phrase!r} not in {str(err.value)!r}"
    return err.value


@pytest.mark.parametrize("case", ROWS, ids=[c.id for c in ROWS])
def test_bad_input(case: Case, trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # a user-model row's folder must not stay importable
    monkeypatch.delenv("FEINT_DATA_DIR", raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    ctx = Ctx(tmp=tmp_path, run=trained_run)
    if case.make is not None:
        case.make(ctx)
    for name, replacement in case.patch.items():
        monkeypatch.setattr(name, replacement)
    for name in case.forbid:
        monkeypatch.setattr(name, _forbidden(name))
    before = snapshot(tmp_path, trained_run)
    outcome = _run_cli(case, ctx) if case.cli is not None else _run_call(case, ctx)
    if case.check is not None:
        case.check(ctx, outcome)
    else:
        assert snapshot(tmp_path, trained_run) == before, "files were written while refusing a bad input"


def test_the_corpus_is_large_and_covers_every_defect_class() -> None:
    assert len(ROWS) >= 120
    by_class = {k: [c.id for c in ROWS if c.defect == k] for k in range(1, 7)}
    assert all(by_class.values()), {k: len(v) for k, v in by_class.items()}
    kinds = {c.id.split("-")[0] for c in ROWS}
    assert {"npz", "idx", "folder", "cifar", "model", "user", "attack", "train", "audit", "demo", "interrupt"} <= kinds
