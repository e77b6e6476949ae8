"""Refusing a job whose ranks do not agree, with the same one-line error on every rank.

A rank that fails alone (a file it cannot read, an argument it rejects) would leave the others
waiting in their next collective; :func:`together` makes every rank learn the first failure and
raise it. Nothing is written before these checks pass.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from feint.distributed.comm import all_gather_json, barrier, broadcast_json
from feint.distributed.env import active, is_root, world_size
from feint.errors import DistributedError, FeintError

_NAMES = {
    "feint": "feint version",
    "settings": "arguments",
    "data": "input data",
    "weights": "model weights",
}


def digest_json(obj: Any) -> str:
    """sha256 of ``obj`` as sorted JSON (anything not JSON by its ``str``)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def digest_tensors(*tensors: Tensor) -> str:
    """sha256 over the shapes, dtypes and bytes of ``tensors``."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), t.dtype)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


@contextmanager
def together(what: str) -> Iterator[None]:
    """Run the body on every rank; if it raises a :class:`FeintError` on any rank, every rank raises
    one :class:`DistributedError` naming the first rank that failed and why."""
    if not active():
        yield
        return
    error: str | None = None
    try:
        yield
    except FeintError as exc:
        error = str(exc)
    failures = [(r, m) for r, m in enumerate(all_gather_json(error, what)) if m is not None]
    if failures:
        r, message = failures[0]
        others = f" (and {len(failures) - 1} other rank(s))" if len(failures) > 1 else ""
        raise DistributedError(f"rank {r}{others} failed while {what}: {message}")


def check_same_job(digests: Mapping[str, str], what: str = "checking that the ranks run the same job") -> None:
    """Every rank must have the same feint version and the same ``digests`` (hashes of the
    settings, data, weights, ...): else one error on every rank naming what differs."""
    if not active():
        return
    from feint.version import __version__

    mine = {"feint": __version__, **digests}
    everyone = all_gather_json(mine, what)
    for key in mine:
        values = [d.get(key) for d in everyone]
        odd = [r for r, v in enumerate(values) if v != values[0]]
        if odd:
            name = _NAMES.get(key, key)
            shown = f" ({', '.join(f'rank {r}: {v}' for r, v in enumerate(values))})" if key == "feint" else ""
            raise DistributedError(
                f"the ranks were not started alike: rank {odd[0]} has other {name} than rank 0{shown}; "
                "start every rank with the same command, files and feint version"
            )


def check_enough_inputs(n: int, what: str) -> None:
    """At least one input per rank."""
    k = world_size()
    if n < k:
        raise DistributedError(
            f"{n} {what} cannot be shared among {k} ranks; start at most {n} processes "
            "(torchrun --nproc-per-node) or give more inputs"
        )


def require_shared_folder(folder: str | Path, why: str, *, attempts: int = 5) -> None:
    """``folder`` must be the same folder on every rank: rank 0 leaves a token there and every rank
    must see it (a network filesystem may take a moment: a few tries). Otherwise one error everywhere."""
    if not active():
        return
    path = Path(folder)
    token, root_path = broadcast_json(
        [secrets.token_hex(8), str(path)] if is_root() else None, "checking the output folder"
    )
    probe = path / f".feint-shared-{token}"
    created = not path.exists()
    if is_root():
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text(token, encoding="utf-8")
    barrier("checking the output folder")
    for _ in range(attempts):
        seen = probe.is_file() and probe.read_text(encoding="utf-8") == token
        if seen:
            break
        time.sleep(0.2)
    answers = all_gather_json(seen, "checking the output folder")
    if is_root():
        probe.unlink(missing_ok=True)
        if created and not all(answers) and not any(path.iterdir()):
            path.rmdir()
    blind = [r for r, ok in enumerate(answers) if not ok]
    if blind:
        raise DistributedError(
            f"{root_path} (rank 0's path) is not one folder shared by every rank: rank {blind[0]} cannot see "
            "what rank 0 writes there; "
            f"{why}. Put it on a filesystem every rank mounts at the same path"
        )
