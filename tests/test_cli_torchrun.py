"""Every feint option survives torchrun's argument parser, and ``torchrun -m feint audit`` works.

torchrun rejects an option that abbreviates several of its own (``--n`` -> "ambiguous option: --n
could match --nnodes, ...") before feint runs. The walk below covers every registered command,
including ones added later (the rule is written in feint/cli/common.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from helpers import passes_across_ranks
from torch.distributed.run import get_args_parser

from feint.cli import main
from feint.cli.common import LEGACY_SPELLINGS

TORCHRUN_OPTIONS = sorted(o for o in get_args_parser()._option_string_actions if o.startswith("--"))


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))


def option_names() -> list[tuple[tuple[str, ...], str, click.Option]]:
    found = [((), o, p) for p in main.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)]
    for path, cmd in commands():
        for param in cmd.get_params(click.Context(cmd)):
            if isinstance(param, click.Option):
                found += [(path, name, param) for name in (*param.opts, *param.secondary_opts)]
    return found


def torchrun_accepts(args: list[str]) -> bool:
    """Whether torchrun's own parser passes ``args`` (after ``-m feint``) through untouched."""
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            parsed = get_args_parser().parse_args(["--nproc-per-node", "2", "-m", "feint", *args])
        except SystemExit:
            return False
    return parsed.training_script == "feint" and parsed.training_script_args == args


def test_no_option_abbreviates_a_torchrun_option() -> None:
    checked = 0
    for path, name, param in option_names():
        if name in getattr(param, "legacy", ()):
            continue
        clash = [t for t in TORCHRUN_OPTIONS if t != name and t.startswith(name)]
        assert not clash, (
            f"feint {' '.join(path)} {name} abbreviates torchrun's {clash}; rename it (feint/cli/common.py)"
        )
        assert torchrun_accepts([*path, name, "1"]) and torchrun_accepts([*path, f"{name}=1"]), (path, name)
        checked += 1
    assert checked > 40  # every command's options were walked


def test_old_spellings_are_declared_and_only_work_outside_torchrun() -> None:
    legacy = {(path, name) for path, name, p in option_names() if name in getattr(p, "legacy", ())}
    assert legacy and {name for _, name in legacy} <= set(LEGACY_SPELLINGS)
    for path, name in legacy:
        assert not torchrun_accepts([*path, name, "1"])  # why it was renamed
        assert torchrun_accepts([*path, LEGACY_SPELLINGS[name], "1"])
        assert name not in CliRunner().invoke(main, [*path, "--help"]).output.split()


@pytest.mark.slow
def test_torchrun_audit_from_the_command_line_equals_one_process(lenet_digits, digits_test, tmp_path) -> None:
    from feint.models import save_model

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    model = save_model(lenet_digits, tmp_path / "model", arch="lenet", data=digits_test.info.to_dict())
    args = ["audit", "--model", str(model), "--n-inputs", "40", "--eps", "0,0.1,0.2", "--preset", "quick"]
    args += ["--batch-size", "10", "--seed", "2", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "feint", *args, "--out", str(tmp_path / "two")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("worst-case accuracy") == 1  # rank 0 alone prints
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
    finally:
        torch.set_num_threads(before)
    assert one.exit_code == 0, one.output
    reports = [json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two")]
    for r in reports:
        del r["created"], r["timings"]
        for a in r["attacks"].values():
            del a["seconds"]
    assert passes_across_ranks(reports[0]) == passes_across_ranks(reports[1])
    assert reports[1]["passes"]["total"]["forward"] >= reports[0]["passes"]["total"]["forward"]
    states = [(tmp_path / d / "audit_state").iterdir() for d in ("one", "two")]
    blobs = [{p.name: p.read_bytes() for p in s if not p.name.endswith(".json")} for s in states]
    assert blobs[0] == blobs[1]  # per-sample tensors and worst-case points, byte for byte


STOPPED_AFTER_ITS_ERROR = """
import os, signal
import click
os.environ.update(RANK="1", LOCAL_RANK="1", WORLD_SIZE="2")
from feint.cli import main
real_echo = click.echo
def echo(*args, **kwargs):  # torchrun's SIGTERM to the survivors arrives right after the error line
    real_echo(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
click.echo = echo
main(["attack", "--model", "x"])
"""


def test_a_failed_rank_says_so_once_even_when_torchrun_then_stops_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_AFTER_ITS_ERROR], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == -15  # ended by the signal, as torchrun meant
    assert done.stderr.splitlines() == [
        "error: feint attack does not share its work among torchrun's ranks; run it without torchrun "
        "(feint attack ...). Under torchrun: audit, blackbox, demo, detect, physical, train, transfer"
    ]
