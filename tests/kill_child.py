"""Run ``feint ARGS`` in this process and stop it, for a parent to SIGKILL, just before the N-th
rename of a temporary file or folder (``$FEINT_KILL_AT``): the moment a kill leaves the most
behind. It writes the temporary's path to ``$FEINT_KILL_MARKER`` first, then waits to be killed.
Used by ``tests/test_kill_resume.py``; nothing else in it differs from ``feint ARGS``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

MARKER, AT = Path(os.environ["FEINT_KILL_MARKER"]), int(os.environ["FEINT_KILL_AT"])
real_replace, renamed = os.replace, [0]


def replace_then_wait(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(src).endswith(".tmp"):
        renamed[0] += 1
        if renamed[0] == AT:
            MARKER.write_text(str(src))
            time.sleep(600)  # the parent kills us here
    real_replace(src, dst, *args, **kwargs)


os.replace = replace_then_wait  # type: ignore[assignment]

if __name__ == "__main__":
    from feint.cli import main

    main(sys.argv[1:], prog_name="feint")
