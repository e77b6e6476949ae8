"""Where an audit starts: the saved state in ``out`` when it matches, else a fresh one.

Rank 0 alone reads ``out/audit_state`` and keeps the worst-case points (a
:class:`~feint.capabilities.audit.points.PointStore` there, or in a scratch folder without ``out``); under
torchrun it sends the per-sample figures and finished units to the other ranks, so ``out`` need not
be shared.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from feint import distributed as fd
from feint.capabilities.audit.points import PointStore
from feint.capabilities.audit.runner import AuditSetup, store_slots
from feint.capabilities.audit.state import AuditState, points_path


def start_state(
    setup: AuditSetup, fp: str, out: str | Path | None, resume: bool, scratch: str
) -> tuple[AuditState, list[str]]:
    """Rank 0 resumes the saved state (or starts afresh) with its point store; the others receive
    the per-sample figures from it."""
    notes: list[str] = []
    state = None
    if fd.is_root():
        state, notes = root_state(setup, fp, out, resume, scratch)
    if fd.active():
        notes = fd.broadcast_json(notes, "sharing the audit state")
        meta = fd.broadcast_json(state.to_meta() if state else None, "sharing the audit state")
        blob = fd.broadcast_tensors(
            state.to_tensors() if state else None, "sharing the audit state", device=setup.x.device
        )
        if state is None:
            state = AuditState.from_parts(blob, meta)
    assert state is not None
    return state, notes


def root_state(
    setup: AuditSetup, fp: str, out: str | Path | None, resume: bool, scratch: str
) -> tuple[AuditState, list[str]]:
    notes: list[str] = []
    store = PointStore(
        points_path(out if out is not None else scratch, fp),
        slots=store_slots(setup),
        n=setup.x.shape[0],
        shape=tuple(setup.x.shape[1:]),
        dtype=setup.x.dtype,
    )
    if out is not None and resume:
        loaded, note = AuditState.load(out, fp, setup.x.device)
        if loaded is not None and store.open() is None:
            loaded, note = None, f"the worst-case points in {store.path} are missing or cut short; starting afresh"
        if note:
            notes.append(note)
            warnings.warn(note, stacklevel=4)
        if loaded is not None:
            notes.append(f"resumed {len(loaded.done)} finished units from {Path(out) / 'audit_state'}")
            loaded.points = store
            return loaded, notes
    state = AuditState.fresh(fp, len(setup.eps), setup.clean_logits)
    state.points = store.create()
    return state, notes
