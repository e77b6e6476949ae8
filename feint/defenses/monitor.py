"""The robust accuracy a training run reports each epoch, and fast-AT's guard measures.

APGD (Croce & Hein 2020) with the DLR loss, a few steps: parameter-free, and the DLR loss is
invariant to the scale of the logits, so a model whose softmax saturates (defensive distillation)
cannot hide behind vanishing cross-entropy gradients here. Two classes fall back to cross-entropy.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.apgd import apgd
from feint.attacks.result import predict_logits
from feint.threat import ThreatModel

CHECK_STEPS = 10


def robust_accuracy(model: nn.Module, x: Tensor, y: Tensor, threat: ThreatModel, *, seed: int = 0) -> float:
    """Accuracy under APGD-DLR (``CHECK_STEPS`` steps) in ``threat``; clean accuracy when eps is 0.

    A model whose outputs are no longer finite (training diverged) scores 0.
    """
    logits = predict_logits(model, x)
    if not bool(torch.isfinite(logits).all()):
        return 0.0
    if threat.eps == 0:
        return float((logits.argmax(1) == y).float().mean())
    loss = "dlr" if logits.shape[1] >= 3 else "ce"
    result = apgd(
        model, x, y, eps=threat.eps, norm=threat.norm, bounds=threat.bounds, steps=CHECK_STEPS, loss=loss, seed=seed
    )
    return result.accuracy
