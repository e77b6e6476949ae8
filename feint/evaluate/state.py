"""Resumable audit state, saved after every attack x eps unit.

The idea of a resumable, per-attack evaluation state follows AutoAttack (Croce & Hein 2020,
"Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks").

The state lives in ``out/audit_state/``: ``state.json`` (fingerprint, finished units, per-unit
numbers) points at one ``tensors-NNNN.safetensors`` file (worst-case inputs (E, N, C, H, W),
which attack broke each input at each eps (E, N), per-unit masks (N,)). Both are written
atomically, the tensors first, so ``state.json`` always names a complete file. Never pickle.
The fingerprint hashes the settings, the data and the model weights: any change starts afresh.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from feint.io import write_json, write_with
from feint.oracles import Oracle

STATE_DIR = "audit_state"
STATE_FILE = "state.json"


def fingerprint(settings: dict[str, Any], x: Tensor, y: Tensor, model: nn.Module | Oracle) -> str:
    """sha256 over the settings (as sorted JSON), the inputs, the labels and the model's state (an
    oracle's name: a query-only model cannot show its weights)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    state = model.state_dict().values() if isinstance(model, nn.Module) else ()
    if not isinstance(model, nn.Module):
        h.update(f"{type(model).__name__}:{model.name}".encode())
    for t in (x, y, *state):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@dataclass
class AuditState:
    """What an audit has found so far; ``broken_by[e, i]`` is an attack index or -1 (not broken)."""

    fingerprint: str
    x_worst: Tensor
    broken_by: Tensor
    carried: Tensor
    tensors: dict[str, Tensor] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)

    @classmethod
    def fresh(cls, fp: str, x: Tensor, n_eps: int) -> AuditState:
        n = x.shape[0]
        return cls(
            fp,
            x_worst=x.detach().unsqueeze(0).repeat(n_eps, *([1] * x.dim())),
            broken_by=torch.full((n_eps, n), -1, dtype=torch.long, device=x.device),
            carried=torch.zeros(n_eps, n, dtype=torch.bool, device=x.device),
        )

    def finish_unit(self, key: str, record: dict[str, Any]) -> None:
        self.records[key] = record
        self.done.append(key)

    def save(self, out: str | Path) -> None:
        folder = Path(out) / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        name = f"tensors-{len(self.done):04d}.safetensors"
        blob = {"x_worst": self.x_worst, "broken_by": self.broken_by, "carried": self.carried, **self.tensors}
        blob = {k: v.detach().cpu().contiguous() for k, v in blob.items()}
        write_with(folder / name, lambda tmp: save_file(blob, str(tmp)))
        meta = {"fingerprint": self.fingerprint, "tensors": name, "done": self.done, "records": self.records}
        write_json(folder / STATE_FILE, meta)
        for old in folder.glob("tensors-*.safetensors"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, out: str | Path, fp: str, device: torch.device) -> tuple[AuditState | None, str | None]:
        """The saved state when its fingerprint matches, else ``(None, note saying why)``."""
        folder = Path(out) / STATE_DIR
        if not (folder / STATE_FILE).is_file():
            return None, None
        try:
            meta = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fp:
                return None, (
                    f"the saved audit state in {folder} was made with other settings, data or weights; "
                    "starting afresh (it will be overwritten)"
                )
            blob = load_file(str(folder / meta["tensors"]), device=str(device))
        except (OSError, ValueError, KeyError, SafetensorError) as exc:
            return None, f"the saved audit state in {folder} is unreadable ({exc}); starting afresh"
        core = {k: blob.pop(k) for k in ("x_worst", "broken_by", "carried")}
        return cls(fp, **core, tensors=blob, records=meta["records"], done=list(meta["done"])), None
