"""Progress for long work: a tqdm bar on a terminal, one plain line per milestone in a log.

tqdm bars redraw with carriage returns, which a log file (CI, ``nohup``, a pipe) keeps as hundreds
of fragments; there the bars are hidden (``disable=None``) and :func:`milestone` prints instead.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(progress: bool, **kwargs: object) -> tqdm:
    """A tqdm bar that only shows when ``progress`` is on and stderr is a terminal."""
    return tqdm(disable=None if progress else True, leave=False, **kwargs)


def milestone(progress: bool, message: str) -> None:
    """Print ``message`` to stderr when ``progress`` is on but no bar can show (stderr is not a terminal)."""
    if progress and not sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)
