"""Per-class Gaussian kernel density on hidden features, bandwidth by cross-validation.

Feinman, Curtin, Shintre & Gardner, "Detecting Adversarial Samples from Artifacts", 2017: one
kernel density estimate per class on the training inputs' last-hidden-layer features, evaluated
at the class the model predicts; adversarial inputs land in low-density regions of their (wrong)
predicted class. The bandwidth of each class is chosen by k-fold cross-validated likelihood
(scikit-learn's ``GridSearchCV`` over ``KernelDensity``) on a grid scaled to the features' nearest
neighbour distances. The log density is computed in torch, so it is differentiable (the adaptive
attack descends it) and equal to ``KernelDensity.score_samples``:
``log p(f) = logsumexp_i(-|f - f_i|^2 / 2h^2) - log n - (d/2) log(2 pi h^2)``.
Shapes: features (N, D); points (n, D); log densities (N,).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError

GRID_FACTORS = np.geomspace(0.25, 8.0, 11)
CHUNK = 1 << 22  # query x point entries computed at once


def select_bandwidth(points: Tensor, *, folds: int = 3, seed: int = 0) -> float:
    """The grid bandwidth with the best ``folds``-fold cross-validated log likelihood on ``points``."""
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity, NearestNeighbors

    data = points.detach().cpu().double().numpy()
    if data.shape[0] < 2 * folds:
        return float(np.median(data.std(0)) + 1e-6)
    distances, _ = NearestNeighbors(n_neighbors=2).fit(data).kneighbors(data)
    scale = float(np.median(distances[:, 1])) or float(data.std()) or 1.0
    search = GridSearchCV(
        KernelDensity(kernel="gaussian"),
        {"bandwidth": scale * GRID_FACTORS},
        cv=KFold(folds, shuffle=True, random_state=seed),
    )
    search.fit(data)
    return float(search.best_params_["bandwidth"])


def fit_class_densities(
    features: Tensor, y: Tensor, num_classes: int, *, max_per_class: int, folds: int, seed: int
) -> tuple[list[Tensor], list[float]]:
    """Per class: the KDE points (at most ``max_per_class``, a seeded subset) and the CV bandwidth."""
    gen = torch.Generator().manual_seed(seed)
    points, bandwidths = [], []
    for c in range(num_classes):
        mine = features[y == c]
        if mine.shape[0] < 2 * folds:
            raise InputError(
                f"class {c} has {mine.shape[0]} inputs in the density part of the data; at least {2 * folds} "
                "per class are needed for the kernel density and its bandwidth search; pass more data"
            )
        if mine.shape[0] > max_per_class:
            mine = mine[torch.randperm(mine.shape[0], generator=gen)[:max_per_class]]
        points.append(mine.contiguous())
        bandwidths.append(select_bandwidth(mine, folds=folds, seed=seed))
    return points, bandwidths


def log_density(query: Tensor, points: Tensor, bandwidth: float) -> Tensor:
    """(N,) Gaussian-kernel log density of ``points`` (n, D) at ``query`` (N, D), differentiable in ``query``."""
    n, d = points.shape
    step = max(1, CHUNK // max(n, 1))
    parts = []
    for i in range(0, query.shape[0], step):
        sq = torch.cdist(query[i : i + step], points).pow(2)
        parts.append(torch.logsumexp(-sq / (2 * bandwidth**2), 1))
    norm = math.log(n) + 0.5 * d * math.log(2 * math.pi * bandwidth**2)
    return torch.cat(parts) - norm


def class_log_density(features: Tensor, classes: Tensor, points: list[Tensor], bandwidths: list[float]) -> Tensor:
    """(N,) log density of each row under the KDE of its class ``classes[i]``."""
    out = features.new_zeros(features.shape[0])
    for c, (pts, h) in enumerate(zip(points, bandwidths, strict=True)):
        rows = (classes == c).nonzero().squeeze(1)
        if rows.numel():
            out = out.index_put((rows,), log_density(features[rows], pts.to(features), h))
    return out
