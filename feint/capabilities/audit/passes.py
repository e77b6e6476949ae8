"""The audit's pass accounting: forward and backward rows per attack, per eps, in total and per input.

A row is one input through the model once (forward) or one input's gradient back through it
(backward). Each attack's rows are counted where it calls the model
(:class:`feint.attacks.core.QueryCounter`, each random draw of an EOT average counted) and recorded
per audit unit; the audit's total is counted by a hook on the model itself for the whole audit
(:func:`counting_passes`), so it also holds the clean pass, the adaptive probes, the masking
checks and the redraws (``other``: the total less the attacks). A resumed audit adds the attack
rows of the units an earlier session finished (their other passes were not kept).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.core import CountBackward
from feint.capabilities.audit.runner import AuditSetup
from feint.capabilities.audit.state import AuditState

RECORD = "passes"


@dataclass
class PassCount:
    forward_rows: int = 0
    backward_rows: int = 0


@contextmanager
def counting_passes(model: Any) -> Iterator[PassCount]:
    """Within the block, count every row through ``model`` (a torch module; nothing for an oracle)
    forward and backward, whoever calls it."""
    count = PassCount()
    if not isinstance(model, nn.Module):
        yield count
        return

    def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> Any:
        x = args[0] if args else None
        if not isinstance(x, Tensor) or x.dim() == 0:
            return None
        rows = int(x.shape[0])
        count.forward_rows += rows
        if isinstance(out, Tensor) and out.requires_grad:
            return CountBackward.apply(out, count, rows)
        return None

    handle = model.register_forward_hook(hook)
    try:
        yield count
    finally:
        handle.remove()


def _rows(record: dict[str, Any]) -> tuple[int, int]:
    return int(record.get("forward_rows", 0)), int(record.get("backward_rows", 0))


def keep_total(state: AuditState, count: PassCount, resumed: list[str], device: torch.device) -> None:
    """Record the audit's total: this session's count summed over the ranks, plus the attack rows
    of the units resumed from an earlier session."""
    mine = torch.tensor([count.forward_rows, count.backward_rows], dtype=torch.long, device=device)
    session = fd.all_reduce_sum(mine, "adding up the passes")
    earlier = [_rows(state.records.get(key, {})) for key in resumed]
    state.records[RECORD] = {
        "forward_rows": int(session[0]) + sum(f for f, _ in earlier),
        "backward_rows": int(session[1]) + sum(b for _, b in earlier),
    }


def passes_summary(setup: AuditSetup, state: AuditState) -> dict[str, Any]:
    """The report's ``passes`` section: per attack (per eps, its once-only minimum-norm run, total),
    per eps over the attacks, the other passes, the total, and the total per input."""
    eps = list(setup.eps)
    per_attack: dict[str, Any] = {}
    per_eps = {"forward": [0] * len(eps), "backward": [0] * len(eps)}
    attacks = [0, 0]
    for plan in setup.plans:
        forward, backward = [0] * len(eps), [0] * len(eps)
        for e in range(len(eps)):
            forward[e], backward[e] = _rows(state.records.get(f"{plan.key}@{e}", {}))
            per_eps["forward"][e] += forward[e]
            per_eps["backward"][e] += backward[e]
        once = _rows(state.records.get(plan.key, {})) if plan.minimum_norm else (0, 0)
        f_all, b_all = sum(forward) + once[0], sum(backward) + once[1]
        attacks[0] += f_all
        attacks[1] += b_all
        per_attack[plan.key] = {
            "forward": forward,
            "backward": backward,
            "once": {"forward": once[0], "backward": once[1]},
            "total": {"forward": f_all, "backward": b_all},
        }
    total = _rows(state.records.get(RECORD, {"forward_rows": attacks[0], "backward_rows": attacks[1]}))
    n = max(int(setup.x.shape[0]), 1)
    return {
        "per_attack": per_attack,
        "per_eps": per_eps,
        "other": {"forward": max(0, total[0] - attacks[0]), "backward": max(0, total[1] - attacks[1])},
        "total": {"forward": total[0], "backward": total[1]},
        "per_input": {"forward": total[0] / n, "backward": total[1] / n},
    }


def passes_lines(passes: dict[str, Any]) -> list[str]:
    """The terminal summary's lines: the total and per input, then each attack's total and the rest."""
    if not passes:
        return []
    t, p, o = passes["total"], passes["per_input"], passes["other"]
    lines = [
        f"passes: {t['forward']} forward + {t['backward']} backward rows "
        f"({p['forward']:.1f} + {p['backward']:.1f} per input)"
    ]
    for name, a in passes["per_attack"].items():
        lines.append(f"  {name}: {a['total']['forward']} forward + {a['total']['backward']} backward rows")
    lines.append(f"  clean pass, probes, checks and redraws: {o['forward']} forward + {o['backward']} backward rows")
    return lines
