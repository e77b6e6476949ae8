"""Query-only access to a classifier: a :class:`ScoreOracle` answers class scores, a
:class:`LabelOracle` only the top-1 label. Neither gives gradients (DESIGN.md, abstraction 4:
access is visible in the type; a module can be degraded to an oracle, an oracle never pretends to
be a module).

Every query is counted in input rows, and an optional budget (``max_queries``) is honoured
exactly: a query that would exceed it is refused *before* anything is sent, with
:class:`QueryBudgetExhausted`, which black-box attacks catch to return their best result so far.
Inputs are NCHW float tensors in ``bounds``; answers come back on the inputs' device.

Subclasses implement :meth:`ScoreOracle._scores` or :meth:`LabelOracle._labels` on a batch that
has already been checked and counted; :meth:`Oracle.batches` splits large queries into requests.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from feint.errors import FeintError, InputError, ModelError
from feint.validation import Bounds, check_images

OUTPUTS = ("logits", "probabilities")


class QueryBudgetExhausted(FeintError):
    """A query would exceed the oracle's budget; nothing was sent. Attacks catch it and stop."""


class Oracle(ABC):
    """Counted, budgeted, gradient-free access to a classifier.

    Args:
        input_shape: (C, H, W) of the inputs attacks work in, or None to accept any shape.
        num_classes: the number of classes, or None to learn it from the first answer.
        bounds: the input range.
        max_queries: the budget in input rows (None: unlimited).
        batch_size: the most rows sent in one request (``batches`` splits larger queries).
        name: a label for reports.
    """

    access = "query"

    def __init__(
        self,
        *,
        input_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        bounds: Bounds = (0.0, 1.0),
        max_queries: int | None = None,
        batch_size: int = 1024,
        name: str = "oracle",
    ) -> None:
        if max_queries is not None and (isinstance(max_queries, bool) or not isinstance(max_queries, int)):
            raise InputError(f"max_queries must be a whole number of input rows, got {max_queries!r}")
        if max_queries is not None and max_queries < 1:
            raise InputError(f"max_queries must be at least 1 (or None for no budget), got {max_queries}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.num_classes = num_classes
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.max_queries = max_queries
        self.batch_size = batch_size
        self.name = name
        self.queries = 0
        self.reserved = 0
        self.refused = 0  # queries the budget refused (QueryBudgetExhausted raised)

    @property
    def remaining(self) -> float:
        """Rows still allowed (``math.inf`` without a budget), less the rows held back by :meth:`hold`."""
        return math.inf if self.max_queries is None else self.max_queries - self.queries - self.reserved

    def hold(self, rows: int) -> None:
        """Keep ``rows`` of the budget back (an attack holds the rows of its final, outside check this
        way); :class:`QueryBudgetExhausted` at once when they are not there. ``release`` gives them back."""
        if not self.can_afford(rows):
            self.refused += 1
            raise QueryBudgetExhausted(
                f"{self.name}: {self.remaining:g} rows left of the budget of {self.max_queries}, but checking "
                f"the result takes {rows}; raise --max-queries or attack fewer inputs"
            )
        self.reserved += rows

    def release(self, rows: int) -> None:
        self.reserved = max(0, self.reserved - rows)

    def can_afford(self, rows: int) -> bool:
        return rows <= self.remaining

    def _admit(self, x: Tensor) -> Tensor:
        """Check ``x`` (shape, finiteness, bounds), charge its rows to the budget, return it detached."""
        check_images(x, bounds=self.bounds)
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise InputError(
                f"{self.name} takes inputs of shape (N, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}; "
                "pass data of the shape the model was built for"
            )
        rows = int(x.shape[0])
        if not self.can_afford(rows):
            self.refused += 1
            raise QueryBudgetExhausted(
                f"{self.name}: a query of {rows} rows would exceed the budget of {self.max_queries} "
                f"({self.queries} used); raise --max-queries or query fewer inputs"
            )
        self.queries += rows
        return x.detach()

    def batches(self, x: Tensor) -> Iterator[Tensor]:
        """``x`` in consecutive slices of at most ``batch_size`` rows (one request each)."""
        for i in range(0, x.shape[0], self.batch_size):
            yield x[i : i + self.batch_size]

    def _learn_classes(self, k: int) -> None:
        if self.num_classes is None:
            self.num_classes = k
        elif k != self.num_classes:
            raise ModelError(f"{self.name} answered {k} classes but was declared with {self.num_classes}")

    @abstractmethod
    def labels(self, x: Tensor) -> Tensor:
        """(N,) int64 top-1 labels of ``x`` (N, C, H, W); counts N queries."""


class ScoreOracle(Oracle):
    """An oracle that answers (N, K) class scores; ``output`` says whether they are logits or
    probabilities."""

    access = "scores"

    def __init__(self, *, output: str = "logits", **kwargs: object) -> None:
        if output not in OUTPUTS:
            raise InputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.output = output

    def scores(self, x: Tensor) -> Tensor:
        """(N, K) scores of ``x``; counts N queries. Non-finite answers are an error, never a result."""
        x = self._admit(x)
        with torch.no_grad():
            out = torch.cat([self._scores(part).detach().to(x.device) for part in self.batches(x)])
        if out.dim() != 2 or out.shape[0] != x.shape[0]:
            raise ModelError(f"{self.name} answered scores of shape {tuple(out.shape)} for {x.shape[0]} inputs")
        bad = (~torch.isfinite(out)).any(1).nonzero().flatten()
        if bad.numel():
            raise ModelError(
                f"{self.name} answered NaN or infinite scores for rows {bad[:10].tolist()}"
                f"{' ...' if bad.numel() > 10 else ''}; fix the model before attacking it"
            )
        self._learn_classes(int(out.shape[1]))
        return out.float()

    def labels(self, x: Tensor) -> Tensor:
        return self.scores(x).argmax(1)

    @abstractmethod
    def _scores(self, x: Tensor) -> Tensor:
        """(n, K) scores of one request ``x`` (n <= batch_size), already checked and counted."""


class LabelOracle(Oracle):
    """An oracle that answers only the top-1 label (a decision-based threat model)."""

    access = "labels"

    def labels(self, x: Tensor) -> Tensor:
        x = self._admit(x)
        with torch.no_grad():
            out = torch.cat([self._labels(part).detach().to(x.device).long().flatten() for part in self.batches(x)])
        if out.shape[0] != x.shape[0]:
            raise ModelError(f"{self.name} answered {out.shape[0]} labels for {x.shape[0]} inputs")
        if self.num_classes is not None and out.numel() and (int(out.min()) < 0 or int(out.max()) >= self.num_classes):
            raise ModelError(f"{self.name} answered a label outside [0, {self.num_classes - 1}]")
        return out

    @abstractmethod
    def _labels(self, x: Tensor) -> Tensor:
        """(n,) labels of one request ``x`` (n <= batch_size), already checked and counted."""


class LabelsOf(LabelOracle):
    """Label-only access to a :class:`ScoreOracle` (the scores are hidden; queries counted on both)."""

    def __init__(self, oracle: ScoreOracle, *, max_queries: int | None = None) -> None:
        super().__init__(
            input_shape=oracle.input_shape,
            num_classes=oracle.num_classes,
            bounds=oracle.bounds,
            max_queries=max_queries,
            batch_size=oracle.batch_size,
            name=f"{oracle.name} (labels only)",
        )
        self.scored = oracle

    def _labels(self, x: Tensor) -> Tensor:
        return self.scored.scores(x).argmax(1)


class BudgetedScores(ScoreOracle):
    """A :class:`ScoreOracle` under a budget of its own (queries counted on both), e.g. a search's
    ``max_queries`` on an oracle built without one; the scores pass through unchanged."""

    def __init__(self, oracle: ScoreOracle, *, max_queries: int) -> None:
        super().__init__(
            output=oracle.output,
            input_shape=oracle.input_shape,
            num_classes=oracle.num_classes,
            bounds=oracle.bounds,
            max_queries=max_queries,
            batch_size=oracle.batch_size,
            name=oracle.name,
        )
        self.scored = oracle

    def _scores(self, x: Tensor) -> Tensor:
        return self.scored.scores(x)
