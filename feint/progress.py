"""Progress for long work: a tqdm bar on a terminal, and one plain line per milestone.

tqdm bars redraw with carriage returns, which a log file (CI, ``nohup``, a pipe) keeps as hundreds
of fragments; there the bars are hidden (``disable=None``). A milestone (an epoch, an attack at one
eps) is one line in both: on a terminal it is written above the live bar, which is erased when done,
so the lines are what stays on the screen.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(progress: bool, **kwargs: object) -> tqdm:
    """A tqdm bar that only shows when ``progress`` is on and stderr is a terminal."""
    return tqdm(disable=None if progress else True, leave=False, **kwargs)


def milestone(progress: bool, message: str) -> None:
    """Print ``message`` as one line on stderr when ``progress`` is on (on a terminal above any live bar)."""
    if not progress:
        return
    if sys.stderr.isatty():
        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)
