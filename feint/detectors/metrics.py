"""Detection metrics: ROC curve and AUC, TPR at a fixed FPR, and what a detector's own decisions did.

Negatives are clean inputs the model classifies correctly, positives are adversarial inputs that
fool it; natural misclassifications are neither and are measured apart. ROC from scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

TARGET_FPR = 0.05
CURVE_POINTS = 200


def roc(clean: Tensor, adversarial: Tensor) -> dict[str, Any]:
    """ROC-AUC, TPR at 5% FPR and the curve (at most ~200 points) of scores ``clean`` vs ``adversarial``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if clean.numel() == 0 or adversarial.numel() == 0:
        return {"roc_auc": None, "tpr_at_5_fpr": None, "curve": {"fpr": [], "tpr": []}}
    scores = np.concatenate([clean.detach().cpu().double().numpy(), adversarial.detach().cpu().double().numpy()])
    truth = np.concatenate([np.zeros(clean.numel()), np.ones(adversarial.numel())])
    fpr, tpr, _ = roc_curve(truth, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), CURVE_POINTS)).round().astype(int))
    return {
        "roc_auc": float(roc_auc_score(truth, scores)),
        "tpr_at_5_fpr": float(tpr[fpr <= TARGET_FPR].max()),
        "curve": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()},
    }


def rate(mask: Tensor) -> float | None:
    return float(mask.float().mean()) if mask.numel() else None


def mean(values: Tensor) -> float | None:
    return float(values.float().mean()) if values.numel() else None
