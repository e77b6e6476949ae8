"""Corpus rows: kill and resume of the newer commands (issue 19, class 7). Ctrl-C names what to do;
the temporaries a SIGKILL leaves beside the outputs are removed by the next run; a fit killed while
saving leaves no half detector; a resumed ``blackbox`` reports what an uninterrupted run reports.
Real SIGKILLs of a subprocess are in ``tests/test_kill_resume.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from corpus import Case, Ctx
from feint.cli import main

FOOL = ("fool", "--model", "{run}", "--generations", "3", "--population", "4", "--quiet", "--out", "out")
PHYSICAL = ("physical", "--model", "{run}", "--n-inputs", "8", "--attacks", "fgsm", "--eps", "0.1", "--quiet")
PHYSICAL = (*PHYSICAL, "--draws", "1", "--sheet", "4", "--out", "out")
TRANSFER = ("transfer", "--source", "{run}", "--target", "{run}", "--n-inputs", "20", "--steps", "1", "--eps", "0.1")
TRANSFER = (*TRANSFER, "--quiet", "--out", "out")
MATRIX = ("transfer", "--matrix", "--techniques", "lr,dt", "--n-inputs", "20", "--quiet", "--out", "out")
FIT = ("detect", "fit", "--model", "{run}", "--detector", "kde-bu", "--n-inputs", "200", "--quiet", "--out", "det")
EVAL = ("detect", "eval", "--detector", "det", "--model", "{run}", "--n-inputs", "20", "--attacks", "fgsm")
EVAL = (*EVAL, "--adaptive-steps", "2", "--quiet", "--out", "out")
BLACKBOX = ("blackbox", "--target", "{run}", "--seed-size", "20", "--n-inputs", "20", "--rounds", "3", "--epochs", "1")
BLACKBOX = (*BLACKBOX, "--substitute", "softmax", "--quiet")
NATURAL = ("natural", "--model", "{run}", "--n-inputs", "8", "--quiet", "--out", "out")
AGAIN = "interrupted; run the same command again; nothing half-written is kept in --out"


def _interrupt(*_: Any, **__: Any) -> None:
    raise KeyboardInterrupt


def interrupted(id: str, cli: tuple[str, ...], where: str, phrase: str = AGAIN, make: Any = None) -> Case:
    return Case(
        f"resume-interrupt-{id}",
        make=make,
        cli=cli,
        patch={where: _interrupt},
        error=KeyboardInterrupt,
        phrase=f"^{phrase}$",
        exit_code=130,
        defect=7,
    )


def _leftovers(folder: str, *names: str) -> Any:
    """What a SIGKILL in the middle of atomic writes leaves in ``folder``: ``.NAME.XXXX.tmp`` files."""

    def make(c: Ctx) -> None:
        (c.tmp / folder).mkdir(exist_ok=True)
        for name in names:
            (c.tmp / folder / f".{name}.k1ll3d.tmp").write_bytes(b"half a file")

    return make


def _clean(folder: str, *complete: str) -> Any:
    def check(c: Ctx, result: Any) -> None:
        assert not list(c.tmp.rglob("*.tmp")), f"left behind: {list(c.tmp.rglob('*.tmp'))}"
        for name in complete:
            assert (c.tmp / folder / name).is_file(), f"{name} missing"

    return check


def leftovers_row(id: str, cli: tuple[str, ...], folder: str, names: tuple[str, ...], make: Any = None) -> Case:
    def prepare(c: Ctx) -> None:
        if make is not None:
            make(c)
        _leftovers(folder, *names)(c)

    return Case(
        f"resume-leftovers-{id}", make=prepare, cli=cli, exit_code=0, check=_clean(folder, *names[:1]), defect=7
    )


def _fitted_detector(c: Ctx) -> None:
    result = CliRunner().invoke(main, [a.format(run=c.run) for a in FIT])
    assert result.exit_code == 0, result.output


def _killed_staging(c: Ctx) -> None:
    """A fit SIGKILLed while saving: its staging folder ``.det.XXXX.tmp`` beside ``det``, no ``det``."""
    staging = c.tmp / ".det.x1y2z3.tmp"
    staging.mkdir()
    (staging / "state.safetensors").write_bytes(b"half")


def _no_detector_left(c: Ctx, result: Any) -> None:
    assert not (c.tmp / "det").exists() and not list(c.tmp.glob(".det.*")), list(c.tmp.iterdir())


def _blackbox_cut(c: Ctx) -> None:
    """A blackbox run interrupted after its second round was saved (the state is in ``cut``)."""
    import feint.capabilities.blackbox.substitute as trained

    real = trained.save_state

    def cut(out: Any, fp: str, state: Any, labels: Any, labelling: int) -> None:
        real(out, fp, state, labels, labelling)
        if len(state.records) == 2:
            raise KeyboardInterrupt

    trained.save_state = cut  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(main, [a.format(run=c.run) for a in (*BLACKBOX, "--out", "cut")])
    finally:
        trained.save_state = real  # type: ignore[assignment]
    assert result.exit_code == 130, result.output


def _same_report_as_uninterrupted(c: Ctx, result: Any) -> None:
    assert "resumed 2 finished substitute rounds" in result.output, result.output
    whole = CliRunner().invoke(main, [a.format(run=c.run) for a in (*BLACKBOX, "--out", "whole")])
    assert whole.exit_code == 0, whole.output
    resumed, fresh = (json.loads(Path(c.tmp, d, "report.json").read_text()) for d in ("cut", "whole"))
    assert resumed["queries"] == fresh["queries"], (resumed["queries"], fresh["queries"])
    ignored = {"timings", "substitute", "created", "git", "host", "feint_version"}
    assert {k: v for k, v in resumed.items() if k not in ignored} == {
        k: v for k, v in fresh.items() if k not in ignored
    }


ROWS = [
    interrupted("fool", FOOL, "feint.attacks.fooling.fool"),
    interrupted("physical", PHYSICAL, "feint.capabilities.physical.run.physical_world"),
    interrupted("natural", NATURAL, "feint.capabilities.physical.natural.natural_variation"),
    interrupted("transfer", TRANSFER, "feint.capabilities.transfer.pair.transfer"),
    interrupted("matrix", MATRIX, "feint.capabilities.transfer.matrix.transfer_matrix"),
    interrupted("detect-fit", FIT, "feint.detectors.kde_bu.DensityUncertaintyDetector.fit"),
    interrupted("detect-eval", EVAL, "feint.capabilities.detect.run.evaluate_detector", make=_fitted_detector),
    interrupted(
        "blackbox",
        (*BLACKBOX, "--out", "bb"),
        "feint.capabilities.blackbox.run.blackbox",
        "interrupted; run the same command again to continue from the last finished substitute round",
    ),
    # killed while the detector folder is written: neither the folder nor its staging copy remain
    interrupted("detect-fit-while-saving", FIT, "feint.detectors.base.write_json"),
    Case(
        "resume-detect-fit-killed-staging-removed",
        make=_killed_staging,
        cli=FIT,
        exit_code=0,
        check=_clean("det", "detector.json", "state.safetensors"),
        defect=7,
    ),
    leftovers_row("fool", FOOL, "out", ("fooling.npz", "report.json", "report.html")),
    leftovers_row("physical", PHYSICAL, "out", ("report.json", "sheet.pdf", "adversarial.npz")),
    leftovers_row("transfer", TRANSFER, "out", ("report.json", "report.html")),
    leftovers_row("matrix", MATRIX, "out", ("report.json", "report.html")),
    leftovers_row("detect-fit", FIT, "det", ("detector.json", "state.safetensors")),
    leftovers_row("detect-eval", EVAL, "out", ("report.json", "report.html"), make=_fitted_detector),
    leftovers_row("blackbox", (*BLACKBOX, "--out", "bb"), "bb", ("report.json", "report.html")),
    Case(
        "resume-blackbox-reports-what-an-uninterrupted-run-reports",
        make=_blackbox_cut,
        cli=(*BLACKBOX, "--out", "cut"),
        exit_code=0,
        check=_same_report_as_uninterrupted,
        defect=7,
    ),
]
