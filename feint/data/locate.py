"""Where dataset files are looked for: an explicit path, then ``$FEINT_DATA_DIR``, then system folders.

feint never downloads anything; a loader that finds nothing raises a :class:`DataError` listing the
places it searched and how to get the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from feint.errors import DataError

ENV_VAR = "FEINT_DATA_DIR"
T = TypeVar("T")
FileKey = tuple[str, int, int]


def search_dirs(
    path: str | os.PathLike[str] | None, *, subdirs: Sequence[str] = (), system: Sequence[Path] = ()
) -> list[Path]:
    """Folders to try, in order.

    An explicit ``path`` (a folder, or a file inside it) is the only place looked at, with its
    ``subdirs``: a wrong path is an error, not a silent fallback. Without it: ``$FEINT_DATA_DIR/<subdir>``,
    ``$FEINT_DATA_DIR`` itself, then the ``system`` folders.
    """
    if path is not None:
        root = Path(path).expanduser()
        if root.is_file():
            root = root.parent
        return [root, *(root / s for s in subdirs)]
    dirs: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        dirs += [root / s for s in subdirs] + [root]
    return dirs + list(system)


def first_found(dirs: Sequence[Path], find: Callable[[Path], T | None]) -> T | None:
    """The first non-None ``find(folder)`` over the existing folders of ``dirs``."""
    for d in dirs:
        if d.is_dir():
            hit = find(d)
            if hit is not None:
                return hit
    return None


def not_found(what: str, searched: Sequence[Path], how: str) -> DataError:
    """The error for missing files: what is missing, every place searched, and how to get the files."""
    places = ", ".join(str(d) for d in searched) or f"nowhere: no path was given and ${ENV_VAR} is not set"
    return DataError(
        f"{what} not found (searched: {places}); {how}, then pass the folder that holds them with "
        f"--data-path (path= in Python) or set {ENV_VAR} to it"
    )


def file_key(path: Path) -> FileKey:
    """A cache key that changes when the file does: resolved path, size, modification time."""
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns
