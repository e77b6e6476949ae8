"""Resumable audit state, saved after every attack x eps unit.

The idea of a resumable, per-attack evaluation state follows AutoAttack (Croce & Hein 2020,
"Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks").

The state lives in ``out/audit_state/``: ``state.json`` (fingerprint, finished units, per-unit
numbers) points at one ``tensors-NNNN.safetensors`` file with the per-sample figures (which attack
broke each input at each eps (E, N), whether it was carried from a smaller eps, the logits (E, N, K)
and the L0/L2/Linf sizes (E, N, 3) of its worst-case point, per-unit masks (N,)); the worst-case
points themselves stream to ``points-<fingerprint>.bin`` (:class:`feint.capabilities.audit.points.PointStore`)
as they are found. Files are written atomically, the tensors first, so ``state.json`` always names a
complete file. Never pickle. The fingerprint hashes the settings, the data, the model weights and
feint's own code (:func:`code_digest`): any change starts afresh. A saved state is only valid for the
code that made it: an attack or an escalation rule changed since would mix two evaluations in one
report, so state from another feint version (or an edited checkout) is refused with a note, not resumed.
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

from feint.capabilities.audit.points import PointStore
from feint.data.rows import Inputs, Rows
from feint.distributed.checks import digest_json, digest_tensors
from feint.io import write_json, write_with
from feint.oracles import Oracle
from feint.version import code_digest

STATE_DIR = "audit_state"
STATE_FILE = "state.json"
CORE = ("broken_by", "carried", "worst_logits", "worst_sizes")


def digests(settings: dict[str, Any], x: Inputs, y: Tensor, model: nn.Module | Oracle) -> dict[str, str]:
    """sha256 of the settings (as sorted JSON), of the inputs and labels, of the model's state
    (an oracle's kind and name: a query-only model cannot show its weights) and of feint's code."""
    if isinstance(model, nn.Module):
        weights = digest_tensors(*model.state_dict().values())
    else:
        weights = digest_json({"oracle": type(model).__name__, "name": model.name})
    data = digest_json([x.digest, digest_tensors(y)]) if isinstance(x, Rows) else digest_tensors(x, y)
    return {"settings": digest_json(settings), "data": data, "weights": weights, "code": code_digest()}


def fingerprint(parts: dict[str, str]) -> str:
    return hashlib.sha256("|".join(f"{k}={parts[k]}" for k in sorted(parts)).encode()).hexdigest()


def points_path(out: str | Path, fp: str) -> Path:
    return Path(out) / STATE_DIR / f"points-{fp[:16]}.bin"


@dataclass
class AuditState:
    """What an audit has found so far; ``broken_by[e, i]`` is an attack index or -1 (not broken).

    ``points`` (rank 0 only) holds the worst-case points; the rest is the same on every rank.
    """

    fingerprint: str
    broken_by: Tensor
    carried: Tensor
    worst_logits: Tensor
    worst_sizes: Tensor
    tensors: dict[str, Tensor] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    points: PointStore | None = None

    @classmethod
    def fresh(cls, fp: str, n_eps: int, clean_logits: Tensor) -> AuditState:
        """Nothing broken yet; ``clean_logits`` (N, K) give the shape, dtype and device."""
        n, device = clean_logits.shape[0], clean_logits.device
        return cls(
            fp,
            broken_by=torch.full((n_eps, n), -1, dtype=torch.long, device=device),
            carried=torch.zeros(n_eps, n, dtype=torch.bool, device=device),
            worst_logits=clean_logits.new_zeros((n_eps, *clean_logits.shape)),
            worst_sizes=torch.zeros(n_eps, n, 3, dtype=torch.float64, device=device),
        )

    def finish_unit(self, key: str, record: dict[str, Any]) -> None:
        self.records[key] = record
        self.done.append(key)

    def point_slots(self, e: int, rows: Tensor) -> Tensor:
        """(b,) the eps index whose slot holds the worst-case point of ``rows`` at ``e`` (carried
        points stay where they were found)."""
        slots = torch.full_like(rows, e)
        for s in range(e, 0, -1):
            slots = torch.where((slots == s) & self.carried[s, rows], slots - 1, slots)
        return slots

    def worst_points(self, e: int, rows: Tensor) -> Tensor:
        """(b, C, H, W) worst-case points of ``rows`` at eps index ``e`` read from the store (CPU)."""
        assert self.points is not None, "only rank 0 keeps the worst-case points"
        slots = self.point_slots(e, rows)
        out = torch.empty((rows.numel(), *self.points.shape), dtype=self.points.dtype)
        for s in slots.unique().tolist():
            pick = slots == s
            out[pick.cpu()] = self.points.read(int(s), rows[pick])
        return out

    def to_tensors(self) -> dict[str, Tensor]:
        return {k: getattr(self, k) for k in CORE} | self.tensors

    def to_meta(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "done": self.done, "records": self.records}

    @classmethod
    def from_parts(cls, blob: dict[str, Tensor], meta: dict[str, Any]) -> AuditState:
        rest = {k: v for k, v in blob.items() if k not in CORE}
        return cls(
            meta["fingerprint"],
            broken_by=blob["broken_by"],
            carried=blob["carried"],
            worst_logits=blob["worst_logits"],
            worst_sizes=blob["worst_sizes"],
            tensors=rest,
            records=meta["records"],
            done=list(meta["done"]),
        )

    def save(self, out: str | Path) -> None:
        folder = Path(out) / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        name = f"tensors-{len(self.done):04d}.safetensors"
        blob = {k: v.detach().cpu().contiguous() for k, v in self.to_tensors().items()}
        write_with(folder / name, lambda tmp: save_file(blob, str(tmp)))
        if self.points is not None:
            self.points.keep()
        write_json(folder / STATE_FILE, {**self.to_meta(), "tensors": name})
        keep = {name, points_path(out, self.fingerprint).name}
        for old in [*folder.glob("tensors-*.safetensors"), *folder.glob("points-*.bin")]:
            if old.name not in keep:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, out: str | Path, fp: str, device: torch.device) -> tuple[AuditState | None, str | None]:
        """The saved state when its fingerprint matches, else ``(None, note saying why)``; its point
        store is attached by the caller."""
        folder = Path(out) / STATE_DIR
        if not (folder / STATE_FILE).is_file():
            return None, None
        try:
            meta = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fp:
                return None, (
                    f"the saved audit state in {folder} was made with other settings, data, weights or feint code; "
                    "starting afresh (it will be overwritten)"
                )
            blob = load_file(str(folder / meta["tensors"]), device=str(device))
            return cls.from_parts(blob, meta), None
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            return None, f"the saved audit state in {folder} is unreadable ({exc}); starting afresh"
