"""Run ``feint ARGS`` in this process and SIGKILL it at a chosen point (``tests/test_kill_resume.py``).

- ``$FEINT_KILL_AT=N`` (with ``$FEINT_KILL_MARKER``): stop just before the N-th rename of a
  temporary file or folder, the moment a kill leaves the most behind; write the temporary's path to
  the marker and wait there for the parent's SIGKILL.
- ``$FEINT_DIE_IN=module:function`` (with ``$FEINT_DIE_RANK``, default 1): under torchrun, that rank
  SIGKILLs itself when it first calls the function.

Nothing else in it differs from ``feint ARGS``.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

real_replace, renamed = os.replace, [0]


def replace_then_wait(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(src).endswith(".tmp"):
        renamed[0] += 1
        if renamed[0] == int(os.environ["FEINT_KILL_AT"]):
            Path(os.environ["FEINT_KILL_MARKER"]).write_text(str(src))
            time.sleep(600)  # the parent kills us here
    real_replace(src, dst, *args, **kwargs)


def die_in(where: str) -> None:
    module_name, name = where.split(":")
    module = importlib.import_module(module_name)
    real = getattr(module, name)

    def dying(*args: Any, **kwargs: Any) -> Any:
        if os.environ.get("RANK") == os.environ.get("FEINT_DIE_RANK", "1"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(module, name, dying)


if __name__ == "__main__":
    if "FEINT_KILL_AT" in os.environ:
        os.replace = replace_then_wait  # type: ignore[assignment]
    if "FEINT_DIE_IN" in os.environ:
        die_in(os.environ["FEINT_DIE_IN"])
    from feint.cli import main

    main(sys.argv[1:], prog_name="feint")
