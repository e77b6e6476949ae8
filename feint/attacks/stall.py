"""When a per-input random search has stalled: checkpoints at doubling budgets, a required fall of the margin.

Successive halving (Jamieson & Talwalkar 2016, "Non-stochastic best arm identification and
hyperparameter optimization"; Li et al. 2018, "Hyperband") stops the runs that make too little
progress at budgets that double. A score-based search such as Square (Andriushchenko et al. 2020)
spends its budget input by input, and the inputs it breaks late still show it: their margin keeps
falling. So at each checkpoint (a twentieth of the budget, then every doubling of it) an input's
search stops where its best margin loss has not fallen to ``factor ** k`` of its value at the start
(k = 1, 2, ... at the successive checkpoints), and runs on wherever it has. Scale-free: only ratios
of one input's own margins are compared.

Measured on a fast-AT Fashion-MNIST CNN behind a JPEG round trip (AutoAttack's large first windows,
a 5,000-query budget, eps 0.05 then 0.1; each input's margin recorded after every query of the full
search and the rule replayed on it): with ``factor`` 0.8 the search spends 0.35x the full budget's
queries on the 100 inputs it was chosen on and 0.37x on 400 others, and misses none of the inputs
the full budget breaks, several of which fall only after 3,000 queries (0.75: 0.29x, 5 of the 400's
missed; a fixed budget of 3,000 queries: 0.64x, 24 missed). ``benchmarks/search_budget.py`` runs it.

Shapes: ``loss`` and ``start`` (n,), one margin loss per input still searching.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from feint.errors import InputError

FIRST = 20  # the first checkpoint: a twentieth of the budget


@dataclass(frozen=True)
class StallRule:
    """Stop the inputs whose margin loss has not fallen enough by a checkpoint of a ``budget``-query search."""

    budget: int
    factor: float

    def __post_init__(self) -> None:
        if not 0.0 < self.factor < 1.0:
            raise InputError(
                f"stall_factor must lie in (0, 1) (the share of the margin loss left per doubling), got {self.factor!r}"
            )

    def required(self, steps: int) -> float | None:
        """At a checkpoint (``steps`` search steps done, the queries after the first), the share of its
        starting margin loss an input must have got below to go on; None between checkpoints."""
        k, at = 1, max(self.budget // FIRST, 1)
        while at < steps:
            k, at = k + 1, at * 2
        return self.factor**k if at == steps and at < self.budget else None

    def stalled(self, steps: int, loss: Tensor, start: Tensor) -> Tensor | None:
        """(n,) bool: the inputs to stop after ``steps`` search steps (None between checkpoints)."""
        share = self.required(steps)
        return None if share is None else loss > share * start
