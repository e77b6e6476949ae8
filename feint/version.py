"""feint's version, on the ground floor so that any module may record it without importing the package
root, and :func:`code_digest`, the version of the sources themselves that resumable states record."""

import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"


@functools.cache
def code_digest() -> str:
    """sha256 of feint's own Python sources (every ``feint/**/*.py``, by relative path and content):
    the code version of a saved state. Hashing the files, not asking git, works for an installed
    package as for a checkout with uncommitted edits."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()
