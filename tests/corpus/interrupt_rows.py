"""Corpus rows: interruption (Ctrl-C names how to resume), leftovers of a kill, damaged resume state."""

from __future__ import annotations

import json
from typing import Any

from corpus import Case, Ctx
from feint.errors import InputError


def _interrupt(*_: Any, **__: Any) -> None:
    raise KeyboardInterrupt


def _stale_temps(c: Ctx) -> None:
    """What a SIGKILL in the middle of atomic writes leaves: temporary files beside the real ones."""
    run = c.copy_run()
    (run / ".weights.safetensors.k1ll3d.tmp").write_bytes(b"half a file")
    epoch = next((run / "checkpoints").glob("epoch-*"))
    (epoch / ".model.safetensors.x9x9x9.tmp").write_bytes(b"half")
    (run / "checkpoints" / ".latest.json.abc123.tmp").write_text("{")


def _no_temps_left(c: Ctx, result: Any) -> None:
    assert not list((c.tmp / "run").rglob("*.tmp")), "the resumed run must remove the leftovers"
    history = json.loads((c.tmp / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]


def _audit_leftovers(c: Ctx) -> None:
    (c.tmp / "a" / "audit_state").mkdir(parents=True)
    (c.tmp / "a" / ".report.json.q1w2e3.tmp").write_text("{")
    (c.tmp / "a" / "audit_state" / ".state.json.r4t5y6.tmp").write_text("{")


def _audit_clean(c: Ctx, result: Any) -> None:
    assert not list((c.tmp / "a").rglob("*.tmp")) and (c.tmp / "a" / "report.json").is_file()


def _damaged_checkpoint(c: Ctx) -> None:
    run = c.copy_run()
    (run / "checkpoints" / "latest.json").write_text('{"folder": "epoch-0099"}')


RESUME_TRAIN = ("train", "--arch", "softmax", "--lr", "0.01", "--epochs", "3", "--out", "run", "--resume", "--quiet")
AUDIT = ("audit", "--model", "{run}", "--n-inputs", "8", "--eps", "0.1", "--preset", "quick", "--out", "a", "--quiet")

ROWS = [
    Case(
        "interrupt-train",
        cli=("train", "--out", "run", "--quiet"),
        patch={"feint.cli.train.train": _interrupt},
        error=KeyboardInterrupt,
        phrase="interrupted; add --resume to the same command",
        exit_code=130,
    ),
    Case(
        "interrupt-audit",
        cli=AUDIT,
        patch={"feint.capabilities.audit.run._run_units": _interrupt},
        error=KeyboardInterrupt,
        phrase="interrupted; run the same command again to continue",
        exit_code=130,
    ),
    Case(
        "interrupt-demo",
        cli=("demo", "--out", "d"),
        patch={"feint.cli.demo._demo_model": _interrupt},
        error=KeyboardInterrupt,
        phrase="interrupted; run the same command again",
        exit_code=130,
    ),
    Case(
        "interrupt-attack",
        cli=("attack", "--model", "{run}", "--n-inputs", "8"),
        patch={"feint.cli.attack.run_attack": _interrupt},
        error=KeyboardInterrupt,
        phrase="^interrupted$",
        exit_code=130,
    ),
    Case(
        "interrupt-leftovers-removed-on-resume",
        make=_stale_temps,
        cli=RESUME_TRAIN,
        exit_code=0,
        check=_no_temps_left,
        defect=6,
    ),
    Case(
        "interrupt-audit-leftovers-removed", make=_audit_leftovers, cli=AUDIT, exit_code=0, check=_audit_clean, defect=6
    ),
    Case(
        "interrupt-damaged-checkpoint",
        make=_damaged_checkpoint,
        cli=RESUME_TRAIN,
        error=InputError,
        phrase=r"checkpoint in .* cannot be read .* delete that folder to start afresh",
    ),
]
