"""The queries a query-only audit spends: its budget (a total over the whole audit) and the account.

``feint.audit(oracle, ..., max_queries=Q)`` (``feint audit --max-queries Q``) caps every row the
audit sends to the model: the clean answers, the checks, the surrogate's training labels and every
attack at every eps, escalation included. The cap is the oracle's own budget
(:class:`~feint.oracles.Oracle` refuses a query that would exceed it before sending anything), so
it is exact; an attack it stops keeps what it found, and the attacks it leaves unrun are reported as
such: robust accuracy is then an upper bound by more than usual. On a resumed audit the queries of
the finished units count against it. The report's ``queries`` section gives the spend per attack,
per eps and in total.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from feint import distributed as fd
from feint.capabilities.audit.escalate import RECORD as ESCALATION
from feint.capabilities.audit.runner import AuditSetup
from feint.capabilities.audit.state import AuditState
from feint.capabilities.audit.surrogate import RECORD as SURROGATE
from feint.errors import InputError
from feint.oracles import Oracle
from feint.report.schema import NUM, obj
from feint.validation import check_positive_int

_INT = {"type": "integer"}
_INT_OR_NULL = {"type": ["integer", "null"]}
QUERIES_SCHEMA: dict[str, Any] = obj(
    {
        "budget": _INT_OR_NULL,
        "spent": _INT,
        "per_input": NUM,
        "exhausted": {"type": "boolean"},
        "answers": _INT,
        "surrogate": {"type": ["object", "null"]},
        "per_attack": {
            "type": "object",
            "additionalProperties": obj({"total": _INT, "per_eps": {"type": "array", "items": _INT}}),
        },
    }
)


def check_budget(model: Any, max_queries: int | None, surrogate: Any) -> None:
    """``max_queries`` and ``surrogate`` apply to a query-only model only; one clear error otherwise."""
    if max_queries is not None:
        check_positive_int(max_queries, "max_queries (--max-queries)")
        if not isinstance(model, Oracle):
            raise InputError(
                "max_queries caps the queries sent to a query-only model (ONNX without conversion, .skops, a URL); "
                "this model is audited white-box, with gradients: leave it out"
            )
    if surrogate is not None:
        if not isinstance(surrogate, nn.Module):
            raise InputError(f"surrogate must be a torch module (a copy of the model), got {type(surrogate).__name__}")
        if not isinstance(model, Oracle):
            raise InputError(
                "a surrogate is for a query-only model, whose gradients the audit cannot see; this model is "
                "audited white-box already: leave --surrogate out"
            )


def recorded(state: AuditState) -> int:
    """Queries the finished units, the surrogate's fit and the checks that decided on escalation have
    spent (a resumed audit's past spend)."""
    units = sum(int(state.records[k].get("queries", 0)) for k in state.done)
    return units + sum(int(state.records.get(k, {}).get("queries", 0)) for k in (SURROGATE, ESCALATION))


@contextmanager
def budget(model: Any, max_queries: int | None) -> Iterator[None]:
    """Within the block the oracle ``model`` answers at most ``max_queries`` more rows (its own
    budget, when tighter, stands); the budget it had is restored afterwards."""
    if max_queries is None or not isinstance(model, Oracle):
        yield
        return
    before = model.max_queries
    cap = model.queries + max_queries
    model.max_queries = cap if before is None else min(before, cap)
    try:
        yield
    finally:
        model.max_queries = before


@dataclass
class Account:
    """The queries one audit of ``oracle`` spends: counted from its counter at the start, plus the
    ``resumed`` queries of a saved state's finished units."""

    oracle: Oracle
    max_queries: int | None
    start: int
    refused: int
    resumed: int = 0
    elsewhere: int = 0  # under torchrun: what the other ranks' oracles answered (:meth:`gather`)

    @classmethod
    def open(cls, model: Any, max_queries: int | None) -> Account | None:
        """The account of a query-only ``model`` (None for a white-box one)."""
        if not isinstance(model, Oracle):
            return None
        return cls(model, max_queries, model.queries, model.refused)

    def resume(self, state: AuditState) -> None:
        """Charge the saved state's past spend against the budget set by :func:`budget`."""
        self.resumed = recorded(state)
        if self.oracle.max_queries is not None:
            self.oracle.max_queries = max(self.oracle.queries, self.oracle.max_queries - self.resumed)

    def gather(self) -> None:
        """Under torchrun each rank asks the oracle for its own batches only (the clean answers too):
        count the other ranks' queries, so that the spend is the job's (every rank calls this)."""
        mine = self.oracle.queries - self.start
        total = int(fd.all_reduce_sum(torch.tensor([mine], dtype=torch.long), "counting the queries")[0])
        self.elsewhere = total - mine

    @property
    def spent(self) -> int:
        return self.oracle.queries - self.start + self.elsewhere + self.resumed

    @property
    def exhausted(self) -> bool:
        """The budget refused a query, or none is left."""
        return self.max_queries is not None and (self.oracle.refused > self.refused or self.oracle.remaining < 1)

    def section(self, setup: AuditSetup, state: AuditState) -> dict[str, Any]:
        """The report's ``queries`` section: the budget, the total spent (``answers``: the clean answers
        and the checks' queries, outside any attack), the surrogate's fit, the spend per attack and eps."""
        per_attack: dict[str, dict[str, Any]] = {}
        for plan in setup.plans:
            per_eps = [int(state.records.get(f"{plan.key}@{e}", {}).get("queries", 0)) for e in range(len(setup.eps))]
            per_attack[plan.key] = {"total": sum(per_eps), "per_eps": per_eps}
        fitted = state.records.get(SURROGATE)
        in_attacks = sum(a["total"] for a in per_attack.values()) + (int(fitted["queries"]) if fitted else 0)
        spent = self.spent
        return {
            "budget": self.max_queries,
            "spent": spent,
            "per_input": spent / max(int(setup.x.shape[0]), 1),
            "exhausted": self.exhausted,
            "answers": max(0, spent - in_attacks),
            "surrogate": dict(fitted) if fitted else None,
            "per_attack": per_attack,
        }


def summary_lines(queries: dict[str, Any] | None) -> list[str]:
    """The terminal summary's lines about the queries spent (a query-only audit's only cost)."""
    if not queries:
        return []
    cap = f" of a budget of {queries['budget']:,}" if queries.get("budget") is not None else ""
    lines = [f"queries: {queries['spent']:,}{cap} ({queries['per_input']:.0f} per input)"]
    parts = [f"{name} {a['total']:,}" for name, a in queries["per_attack"].items() if a["total"]]
    if queries.get("surrogate"):
        parts.append(f"surrogate fit {queries['surrogate']['queries']:,}")
    parts.append(f"clean answers and checks {queries['answers']:,}")
    lines.append("  " + ", ".join(parts))
    if queries.get("exhausted"):
        lines.append(
            "  the query budget was spent before the audit finished: attacks it stopped or never ran leave "
            "robust accuracy overstated; raise --max-queries for a tighter figure"
        )
    return lines
