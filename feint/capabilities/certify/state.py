"""The certification's resumable state, saved after every group of inputs in ``out/certify_state/``.

``state.json`` holds the fingerprint and, per finished group, each input's answer (class or -1,
radius, lower bound, majority vote, base model's clean verdict) and the seconds the group took. It
is written atomically after every group (:func:`feint.io.write_json`), so a killed run loses at
most the group under way; each group draws its noise from its own seed, so the resumed figures
equal an uninterrupted run's. Nothing is pickled. The fingerprint hashes the settings, the inputs,
the labels and the model's weights: any change starts afresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from feint.distributed.checks import digest_json, digest_tensors
from feint.io import write_json

STATE_DIR = "certify_state"
STATE_FILE = "state.json"


def fingerprint(settings: dict[str, Any], x: Tensor, y: Tensor, model: nn.Module) -> str:
    """sha256 over the settings (sorted JSON), the inputs and labels and the model's state."""
    return digest_json(
        {"settings": settings, "data": digest_tensors(x, y), "weights": digest_tensors(*model.state_dict().values())}
    )


def load_groups(out: str | Path | None, fp: str, resume: bool) -> tuple[dict[int, dict[str, Any]], str | None]:
    """The finished groups saved in ``out`` for fingerprint ``fp`` (none without ``out``, with
    ``resume`` off or for another fingerprint), and a note when a saved state was set aside."""
    path = Path(out) / STATE_DIR / STATE_FILE if out is not None else None
    if path is None or not resume or not path.is_file():
        return {}, None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fp:
            return {}, f"the state in {path.parent} is for other settings, inputs or weights; starting afresh"
        return {int(k): dict(v) for k, v in saved["groups"].items()}, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return {}, f"the state in {path.parent} is unreadable ({exc}); starting afresh"


def save_groups(out: str | Path, fp: str, groups: dict[int, dict[str, Any]]) -> None:
    write_json(
        Path(out) / STATE_DIR / STATE_FILE, {"fingerprint": fp, "groups": {str(k): groups[k] for k in sorted(groups)}}
    )
