"""What every black-box attack shares: an oracle instead of a module, and the outside check.

DESIGN.md abstraction 3 for oracles: the attack's final points are projected onto the threat
model and sent through the oracle once more; that re-query decides ``success``. It is counted
(``AttackResult.queries`` is every row the attack sent, this check included), and its N rows are
held back from the oracle's budget from the start, so an attack that runs out of budget can
always still check what it found. A torch module passed to a black-box attack is wrapped at the
access the attack needs (:func:`feint.oracles.as_oracle`); it never gives gradients.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import Tensor, nn

from feint.attacks.core import Targets
from feint.attacks.result import AttackResult, is_success
from feint.errors import InputError
from feint.oracles import Oracle, as_oracle
from feint.oracles.logits import access_of, oracle_logits
from feint.threat import ThreatModel
from feint.validation import check_images, check_labels, check_positive_int


@dataclass
class OracleRun(Targets):
    """State of one black-box attack call: the oracle, the checked inputs, the threat model."""

    oracle: Oracle
    x: Tensor
    y: Tensor
    threat: ThreatModel
    target: Tensor | None
    start: int
    held: int

    @property
    def queries(self) -> int:
        """Rows this attack has sent so far."""
        return self.oracle.queries - self.start

    @property
    def num_classes(self) -> int:
        known = self.oracle.num_classes or 0
        return max(known, int(self.y.max()) + 1, int(self.target.max()) + 1 if self.target is not None else 0)

    def finish(self, x_adv: Tensor) -> AttackResult:
        """Project ``x_adv``, re-query the oracle with the held-back rows, record the verdict."""
        x_adv = self.threat.contain(x_adv.detach(), self.x).detach()
        self.oracle.release(self.held)
        self.held = 0
        logits = oracle_logits(self.oracle, x_adv, num_classes=self.num_classes)
        return AttackResult(
            x=self.x,
            x_adv=x_adv,
            y=self.y,
            target=self.target,
            success=is_success(logits, self.y, self.target),
            adv_logits=logits,
            distance=self.threat.distance(x_adv, self.x),
            queries=self.queries,
            threat=self.threat,
            access=access_of(self.oracle),
        )


@contextmanager
def oracle_run(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    threat: ThreatModel,
    *,
    target: Tensor | None = None,
    access: str = "scores",
) -> Iterator[OracleRun]:
    """Check the inputs, get ``access`` ("scores" or "labels") to ``model`` and hold back the final check's rows."""
    check_images(x, bounds=threat.bounds)
    check_labels(y, n=x.shape[0])
    oracle = as_oracle(model, access=access, bounds=threat.bounds)
    k = oracle.num_classes
    check_labels(y, n=x.shape[0], num_classes=k)
    if target is not None:
        check_labels(target, n=x.shape[0], num_classes=k, name="target")
    oracle.hold(x.shape[0])
    # Inputs within the check's tolerance outside the bounds are clipped onto them, so that the
    # result lies in the bounds and the eps-ball around ``run.x`` exactly (as attack_run does).
    run = OracleRun(oracle, threat.clip(x.detach()), y, threat, target, oracle.queries, x.shape[0])
    try:
        yield run
    finally:
        oracle.release(run.held)


def check_query_budget(value: int, name: str) -> None:
    """A query attack's per-sample budget ``value``: a whole number of at least 2 (one query and the
    final check the oracle run holds back)."""
    check_positive_int(value, name)
    if value < 2:
        raise InputError(f"{name} must be at least 2 (one query and the final check), got {value}")
