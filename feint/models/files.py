"""scikit-learn models and pickles on disk, loaded without running code from the file.

- ``.skops``: skops' format reconstructs objects from a declared list of types instead of
  unpickling; feint trusts skops' own safe list and scikit-learn's classes (``sklearn.*``, e.g.
  an MLP's optimizer state) and refuses any other type unless ``trust=True``.
- ``.pkl`` / ``.pickle`` / ``.joblib``: unpickling runs whatever code the file names, so such a
  file is refused unless ``trust=True`` (the CLI's ``--trust-file``), for files you made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from feint.errors import ModelError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def load_skops(path: str | os.PathLike[str], *, trust: bool = False) -> Any:
    """The object in a ``.skops`` file; types beyond skops' and scikit-learn's need ``trust``."""
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ModelError("reading .skops files needs skops: pip install 'feint[sklearn]'") from exc
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"skops file {str(file)!r} not found; pass an existing .skops file to --model")
    try:
        unknown = sio.get_untrusted_types(file=file)
    except Exception as exc:  # skops raises zipfile/JSON/key errors for a damaged file
        raise ModelError(
            f"{file} is not a readable skops file ({str(exc)[:160]}); save it again with skops.io.dump"
        ) from exc
    foreign = [t for t in unknown if not t.startswith("sklearn.")]
    if foreign and not trust:
        raise ModelError(
            f"{file} names types outside skops' and scikit-learn's trusted set ({', '.join(foreign)}); loading them "
            "could run code from the file: pass --trust-file only if you made it"
        )
    try:
        return sio.load(file, trusted=unknown)
    except Exception as exc:  # a file whose declared types do not rebuild
        raise ModelError(
            f"{file} could not be rebuilt by skops ({str(exc)[:160]}); save it again with skops.io.dump"
        ) from exc


def load_pickle(path: str | os.PathLike[str], *, trust: bool = False) -> Any:
    """The object in a pickle or joblib file, only with ``trust`` (unpickling runs code from the file)."""
    file = Path(path)
    if not trust:
        raise ModelError(
            f"{file} is a pickle: loading it runs any code the file contains, so feint refuses it. Save a "
            "scikit-learn model with skops.io.dump (.skops) or export it to ONNX; pass --trust-file only if you made it"
        )
    if not file.is_file():
        raise ModelError(f"model file {str(file)!r} not found")
    import joblib

    try:
        return joblib.load(file)
    except Exception as exc:  # anything unpickling can raise
        raise ModelError(f"{file} could not be unpickled ({str(exc)[:160]})") from exc
