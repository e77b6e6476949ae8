"""Atomic file writes: write to a temporary name in the same folder, then rename.

An interrupted run therefore never leaves a half-written file under its real name; the temporary
``.NAME.XXXX.tmp`` files a kill can leave are removed when the run resumes
(:func:`remove_stale_temps`). Outputs are checked before any work starts (:func:`check_writable`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from feint.errors import OutputError

TEMP_SUFFIX = ".tmp"
# check_writable's probe; a younger one belongs to a check under way (another rank's), not to a killed run
PROBE_PREFIX = ".feint-write-check."
PROBE_GRACE_S = 60.0


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    A file system error (no permission, no space, a file where a folder should be) becomes one
    :class:`~feint.errors.OutputError` naming ``path``.
    """
    target = Path(path)
    tmp_path: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror or exc}); choose another output path") from exc
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def check_writable(path: str | os.PathLike[str], *, folder: bool, option: str = "--out") -> Path:
    """Check before any work that ``path`` (a file, or with ``folder`` a folder) can be written.

    The nearest existing ancestor must be a folder in which a file can be created (tried for real,
    then removed); an existing ``path`` must be of the right kind. Nothing is left behind.
    """
    target = Path(path).expanduser()
    if target.exists() and target.is_dir() != folder:
        kind = "a folder" if folder else "a file name"
        raise OutputError(f"{option} {str(path)!r} must be {kind}, but {'a file' if folder else 'a folder'} is there")
    start = target if folder else target.parent
    anchor = next((p for p in (start, *start.parents) if p.exists()), Path("."))
    if not anchor.is_dir():
        raise OutputError(f"{option} {str(path)!r} lies under {str(anchor)!r}, which is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, suffix=TEMP_SUFFIX, dir=anchor)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"{option} {str(path)!r} cannot be written ({exc.strerror or exc} in {str(anchor)!r}); choose another path"
        ) from exc
    return target


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the ``.NAME.XXXX.tmp`` files an interrupted :func:`atomic_path` left under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        return []
    stale = [p for p in root.rglob(f".*{TEMP_SUFFIX}") if p.is_file() and not _live_probe(p)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _live_probe(path: Path) -> bool:
    """A write check another process (another torchrun rank checking the same folder) is making now:
    it removes its probe itself within milliseconds, so removing it here would fail that check."""
    if not path.name.startswith(PROBE_PREFIX):
        return False
    try:
        return time.time() - path.stat().st_mtime < PROBE_GRACE_S
    except FileNotFoundError:  # its maker has just removed it
        return True


def prepare_out(path: str | os.PathLike[str], *, option: str = "--out") -> Path:
    """Before any work: check that the output folder ``path`` can be written (:func:`check_writable`)
    and remove the temporaries an earlier killed run left in it (:func:`remove_stale_temps`).
    Every command that writes a folder calls this first."""
    target = check_writable(path, folder=True, option=option)
    remove_stale_temps(target)
    return target


@contextmanager
def staged_folder(path: str | os.PathLike[str], *, last: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder ``.NAME.XXXX.tmp`` beside the folder ``path``; on success its
    contents become ``path``'s, on failure it is removed, so ``path`` never holds half of the output.

    ``path`` missing or empty: the temporary folder is renamed onto it (one atomic step). ``path``
    holding other files: each written entry is moved in (``last``, e.g. the file that marks the
    folder complete, moves last). Temporary folders a killed run left beside ``path`` are removed first.
    """
    target = Path(path)
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f".{target.name}.*{TEMP_SUFFIX}"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp creates 0700; the folder keeps the usual permissions
        yield staging
        if not target.exists() or (target.is_dir() and not any(target.iterdir())):
            os.replace(staging, target)
            return
        entries = sorted(staging.iterdir(), key=lambda p: p.name == last)
        for entry in entries:
            dest = target / entry.name
            if dest.is_dir():  # os.replace cannot put anything over a folder that is not empty
                shutil.rmtree(dest)
            os.replace(entry, dest)
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror or exc}); choose another output path") from exc
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
