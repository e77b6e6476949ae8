"""Removing what a killed run left must not remove what another process is writing now: under torchrun
every rank checks that --out can be written (a probe file, made and removed at once) while rank 0 clears
the temporaries of an earlier run from the same folder."""

from __future__ import annotations

import os
import time

from feint.io import PROBE_GRACE_S, PROBE_PREFIX, TEMP_SUFFIX, check_writable, remove_stale_temps


def test_a_probe_under_way_is_kept_and_what_a_killed_run_left_is_removed(tmp_path) -> None:
    left = tmp_path / "sub" / f".report.json.abc{TEMP_SUFFIX}"  # an interrupted atomic write
    left.parent.mkdir()
    left.write_text("{")
    live = tmp_path / f"{PROBE_PREFIX}live{TEMP_SUFFIX}"  # another rank's check, this instant
    live.write_text("")
    old = tmp_path / f"{PROBE_PREFIX}old{TEMP_SUFFIX}"  # a check killed before it removed its probe
    old.write_text("")
    then = time.time() - 2 * PROBE_GRACE_S
    os.utime(old, (then, then))
    removed = remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted([left.name, old.name])
    assert live.is_file() and not left.exists() and not old.exists()
    assert check_writable(tmp_path, folder=True) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["sub", live.name])  # the check leaves nothing
