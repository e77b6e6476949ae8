"""The decision-tree path attack.

Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: from Phenomena to
Black-Box Attacks using Adversarial Samples", sec. 4 (decision trees): a tree is not
differentiable, but its decision for x is the leaf x reaches, and every leaf is a box cut out by
the thresholds on its path. The attack moves x into the nearest leaf of another class by
changing only the features tested on that leaf's path: the nearest point of the leaf's box is
x clamped to it. "Nearest" is in Linf (ties broken by the fewest changed features), so that an
Linf budget ``eps`` is met whenever any leaf of another class lies within it.

A tree cannot always be fooled within a budget: an input whose nearest other-class leaf needs a
change larger than ``eps`` is left unchanged and reported (``within_budget`` False, ``needed``
holds the change it would take). The verdict is re-checked by running the tree on the result.

Works on a fitted scikit-learn ``DecisionTreeClassifier`` trained on flattened inputs.
Shapes: x (N, C, H, W) in ``bounds``, y (N,) class indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError
from feint.validation import Bounds, check_images, check_labels


@dataclass(frozen=True)
class TreePathResult:
    """``x_adv`` (N, C, H, W); ``success``: the tree misclassifies ``x_adv`` (re-checked);
    ``needed``: the Linf change to the nearest leaf of another class (inf if none is reachable);
    ``within_budget``: ``needed <= eps`` (all True without a budget)."""

    x_adv: Tensor
    success: Tensor
    needed: Tensor
    within_budget: Tensor


def leaf_boxes(tree: object, dim: int, bounds: Bounds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per leaf: the lower and upper corner of its box (L, D) within ``bounds``, and its class (L,).

    The tree sends x left when ``float32(x[f]) <= threshold``; the corners are float32 values
    that land on the intended side of every threshold on the path.
    """
    t = tree.tree_  # type: ignore[attr-defined]
    lo = np.full((t.node_count, dim), bounds[0], dtype=np.float64)
    hi = np.full((t.node_count, dim), bounds[1], dtype=np.float64)
    for node in range(t.node_count):  # parents come before their children in sklearn's arrays
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            continue
        f, th = t.feature[node], t.threshold[node]
        below = np.float32(th)
        below = below if np.float64(below) <= th else np.nextafter(below, np.float32(-np.inf))
        above = np.nextafter(np.float32(th), np.float32(np.inf))
        above = above if np.float64(above) > th else np.nextafter(above, np.float32(np.inf))
        for child in (left, right):
            lo[child], hi[child] = lo[node], hi[node]
        hi[left, f] = min(hi[node, f], float(below))
        lo[right, f] = max(lo[node, f], float(above))
    leaves = np.flatnonzero(t.children_left == -1)
    classes = tree.classes_[t.value[leaves, 0].argmax(1)]  # type: ignore[attr-defined]
    return lo[leaves], hi[leaves], classes


def path_constraints(lo: np.ndarray, hi: np.ndarray, bounds: Bounds) -> tuple[Tensor, Tensor, Tensor]:
    """The leaf boxes as the features their paths test: (L, P) feature indices, lower and upper
    limits; padded with feature ``D`` (a dummy column) and limits (-inf, inf)."""
    tested = (lo > bounds[0]) | (hi < bounds[1])
    width = max(1, int(tested.sum(1).max()))
    dim = lo.shape[1]
    idx = np.full((lo.shape[0], width), dim, dtype=np.int64)
    low = np.full(idx.shape, -np.inf)
    high = np.full(idx.shape, np.inf)
    for leaf, features in enumerate(tested):
        f = np.flatnonzero(features)
        idx[leaf, : f.size], low[leaf, : f.size], high[leaf, : f.size] = f, lo[leaf, f], hi[leaf, f]
    return torch.from_numpy(idx), torch.from_numpy(low), torch.from_numpy(high)


def tree_path_attack(
    tree: object,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    chunk: int = 256,
) -> TreePathResult:
    """Move each input to the nearest leaf (Linf) of a class other than ``y``, within ``eps`` if given."""
    if not hasattr(tree, "tree_") or not hasattr(tree, "classes_"):
        raise InputError(
            f"the path attack needs a fitted scikit-learn DecisionTreeClassifier, got {type(tree).__name__}"
        )
    check_images(x, bounds=bounds)
    check_labels(y, n=x.shape[0])
    flat = x.detach().flatten(1).double().cpu()
    if flat.shape[1] != tree.n_features_in_:  # type: ignore[attr-defined]
        raise InputError(f"the tree was fitted on {tree.n_features_in_} features, the inputs have {flat.shape[1]}")  # type: ignore[attr-defined]
    lo, hi, classes_np = leaf_boxes(tree, flat.shape[1], bounds)
    feasible = torch.from_numpy((lo <= hi).all(1))
    idx, low, high = path_constraints(lo, hi, bounds)
    classes = torch.from_numpy(classes_np.astype(np.int64))
    padded = torch.cat([flat, torch.zeros(flat.shape[0], 1, dtype=flat.dtype)], 1)
    best, needed = padded.clone(), torch.full((flat.shape[0],), float("inf"), dtype=torch.float64)
    labels = y.detach().cpu()
    for i in range(0, flat.shape[0], chunk):
        xs = padded[i : i + chunk]
        tested = xs[:, idx]  # (c, L, P): each input's values of the features on each leaf's path
        moved = torch.minimum(torch.maximum(tested, low[None]), high[None])
        change = (moved - tested).abs()
        linf = change.amax(2) + 1e-9 * (change > 0).sum(2)  # Linf, ties broken by the fewest features
        allowed = feasible[None] & (classes[None] != labels[i : i + chunk, None])
        size, leaf = torch.where(allowed, linf, torch.full_like(linf, float("inf"))).min(1)
        for row in torch.isfinite(size).nonzero().flatten().tolist():
            best[i + row, idx[leaf[row]]] = moved[row, leaf[row]]
            needed[i + row] = change[row, leaf[row]].amax()
    within = torch.isfinite(needed) if eps is None else needed <= eps
    x_adv = torch.where(within[:, None], best[:, :-1], flat).float().view_as(x).to(x.device)
    predicted = torch.as_tensor(tree.predict(x_adv.flatten(1).cpu().numpy()), device=x.device)  # type: ignore[attr-defined]
    return TreePathResult(x_adv, predicted != y, needed.float().to(x.device), within.to(x.device))
