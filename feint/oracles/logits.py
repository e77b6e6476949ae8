"""Turning what an oracle answers into logits, the one currency of :class:`~feint.attacks.AttackResult`.

- logits pass through;
- probabilities become log-probabilities (``softmax(log p) == p``; margins equal the logits' ones);
- a label becomes the log of a one-hot answer: 0 for the label, ``-inf`` elsewhere, so ``argmax``
  and ``softmax`` still give the label, and the result's ``access == "labels"`` says the
  confidence was never revealed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from feint.oracles.base import LabelOracle, Oracle, ScoreOracle

_TINY = 1e-30


def scores_to_logits(scores: Tensor, output: str) -> Tensor:
    """(N, K) logits from an oracle's ``output`` ("logits" or "probabilities")."""
    return scores.clamp_min(_TINY).log() if output == "probabilities" else scores


def label_logits(labels: Tensor, num_classes: int) -> Tensor:
    """(N, K) log one-hot of (N,) labels: 0 at the label, ``-inf`` elsewhere."""
    out = torch.full((labels.shape[0], num_classes), -torch.inf, device=labels.device)
    return out.scatter_(1, labels.long()[:, None], 0.0)


def oracle_logits(oracle: Oracle, x: Tensor, *, num_classes: int | None = None) -> Tensor:
    """(N, K) logits of ``x`` through ``oracle`` (counted); a label oracle needs ``num_classes``
    unless it knows them."""
    if isinstance(oracle, ScoreOracle):
        return scores_to_logits(oracle.scores(x), oracle.output)
    assert isinstance(oracle, LabelOracle)
    labels = oracle.labels(x)
    k = max(oracle.num_classes or 0, num_classes or 0, int(labels.max()) + 1 if labels.numel() else 0)
    return label_logits(labels, k)


def access_of(oracle: Oracle) -> str:
    """``"scores"`` or ``"labels"``: what an attack through ``oracle`` could see."""
    return "scores" if isinstance(oracle, ScoreOracle) else "labels"
