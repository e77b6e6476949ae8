"""The substitute attack's resumable state, saved after every round in ``out/blackbox_state/``.

``state.json`` (fingerprint, finished rounds, training queries, the queries that labelled the
held-out inputs, notes) names one
``tensors-NNNN.safetensors`` file (S_rho, its oracle labels, the rows the last augmentation added,
the oracle's labels of the held-out inputs and the substitute's weights as ``model.*``). The
tensors are written first and both files atomically, so ``state.json`` always names a complete
file. Nothing is pickled. The fingerprint hashes the substitute settings, S_0, the held-out inputs
and the oracle's name: any change starts afresh.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from feint.io import write_json, write_with
from feint.models.registry import create_model
from feint.training.substitute import RoundRecord, SubstituteConfig, SubstituteState
from feint.version import code_digest

STATE_DIR = "blackbox_state"
STATE_FILE = "state.json"


def fingerprint(config: SubstituteConfig, oracle_name: str, *tensors: Tensor) -> str:
    """sha256 over the settings (sorted JSON), the oracle's name, feint's code (a substitute trained by
    other code is not resumed: two versions' rounds would mix in one report) and the tensors' bytes."""
    parts = {"config": config.to_dict(), "oracle": oracle_name, "code": code_digest()}
    h = hashlib.sha256(json.dumps(parts, sort_keys=True).encode())
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def save_state(out: str | Path, fp: str, state: SubstituteState, oracle_labels: Tensor, labelling_queries: int) -> None:
    """Write the state after a round (tensors first, then the JSON that names them);
    ``labelling_queries`` is what ``oracle_labels`` cost, so that a resumed report counts it."""
    folder = Path(out) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"tensors-{len(state.records):04d}.safetensors"
    blob = {"x": state.x, "labels": state.labels, "fresh": state.fresh, "oracle_labels": oracle_labels}
    blob |= {f"model.{k}": v for k, v in state.model.state_dict().items()}
    blob = {k: v.detach().cpu().contiguous() for k, v in blob.items()}
    write_with(folder / name, lambda tmp: save_file(blob, str(tmp)))
    meta = {
        "fingerprint": fp,
        "tensors": name,
        "num_classes": state.num_classes,
        "step": state.step,
        "queries": state.queries,
        "labelling_queries": int(labelling_queries),
        "done": state.done,
        "notes": state.notes,
        "records": [r.to_dict() for r in state.records],
    }
    write_json(folder / STATE_FILE, meta)
    for old in folder.glob("tensors-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


@dataclass(frozen=True)
class Resumed:
    """A saved state read back: the substitute's state, the oracle's labels of the held-out inputs
    and the queries those labels cost (spent by the run that saved them)."""

    state: SubstituteState
    oracle_labels: Tensor
    labelling_queries: int


def load_state(
    out: str | Path, fp: str, config: SubstituteConfig, device: torch.device
) -> tuple[Resumed | None, str | None]:
    """``(what was saved, None)`` when a saved state matches ``fp``; otherwise ``(None, a note
    saying why)`` (no note when there is nothing saved)."""
    folder = Path(out) / STATE_DIR
    if not (folder / STATE_FILE).is_file():
        return None, None
    try:
        meta: dict[str, Any] = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        if meta.get("fingerprint") != fp:
            return None, (
                f"the saved substitute in {folder} was trained with other settings, inputs, target or feint code; "
                "starting afresh (it will be overwritten)"
            )
        blob = load_file(str(folder / meta["tensors"]), device=str(device))
        weights = {k.removeprefix("model."): blob.pop(k) for k in list(blob) if k.startswith("model.")}
        x = blob["x"]
        shape = tuple(int(s) for s in x.shape[1:])
        model = create_model(config.arch, input_shape=shape, num_classes=int(meta["num_classes"]), **config.arch_kwargs)  # type: ignore[arg-type]
        model.load_state_dict(weights)
        state = SubstituteState(
            model.to(device).eval(),
            x,
            blob["labels"],
            blob["fresh"],
            int(meta["num_classes"]),
            step=float(meta["step"]),
            records=[RoundRecord(**r) for r in meta["records"]],
            queries=int(meta["queries"]),
            notes=list(meta["notes"]),
            done=bool(meta["done"]),
        )
        resumed = Resumed(state, blob["oracle_labels"], int(meta["labelling_queries"]))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        return None, f"the saved substitute in {folder} is unreadable ({exc}); starting afresh"
    return resumed, None
