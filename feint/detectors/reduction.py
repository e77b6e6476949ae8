"""Optional dimensionality reduction of hidden features before the kernel density: PCA or an autoencoder.

Kernel density estimates degrade quickly with the dimension; the literature review pairs KDE with
a reduction first. ``pca`` is scikit-learn's PCA; ``autoencoder`` a small MLP autoencoder
(D -> hidden -> k -> hidden -> D, ReLU) trained on the features with Adam, whose encoder is kept.
Either becomes a torch module (PCA as one linear map), so the reduction is differentiable and is
saved as tensors. Shapes: features (N, D) -> (N, k).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.errors import InputError

REDUCTIONS = ("none", "pca", "autoencoder")


def build_reducer(kind: str, dim: int, components: int, hidden: int) -> nn.Module:
    """An untrained reducer of the right shape (what loading fills with saved weights)."""
    if kind == "none":
        return nn.Identity()
    if kind == "pca":
        return nn.Linear(dim, components)
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, components))


def fit_reducer(
    kind: str, features: Tensor, *, components: int, hidden: int = 64, epochs: int = 60, seed: int = 0
) -> nn.Module:
    """Fit the reduction ``kind`` on ``features`` (N, D); returns a module mapping (N, D) -> (N, k)."""
    dim = features.shape[1]
    if kind != "none" and not 0 < components < dim:
        raise InputError(f"components must lie in [1, {dim - 1}] for {dim} features, got {components}")
    reducer: nn.Module = nn.Identity()
    if kind == "pca":
        reducer = _pca(features, components, seed)
    elif kind == "autoencoder":
        reducer = _autoencoder(features.detach().cpu().float(), components, hidden=hidden, epochs=epochs, seed=seed)
    return reducer.eval().requires_grad_(False)


def _pca(features: Tensor, components: int, seed: int) -> nn.Linear:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=components, random_state=seed).fit(features.detach().cpu().double().numpy())
    basis = torch.as_tensor(pca.components_, dtype=torch.float32)
    mean = torch.as_tensor(pca.mean_, dtype=torch.float32)
    linear = nn.Linear(basis.shape[1], components)
    with torch.no_grad():
        linear.weight.copy_(basis)
        linear.bias.copy_(-basis @ mean)
    return linear


def _autoencoder(data: Tensor, components: int, *, hidden: int, epochs: int, seed: int) -> nn.Module:
    """Train the autoencoder on ``data`` (N, D) with Adam on the per-feature scaled error; return its encoder."""
    gen = torch.Generator().manual_seed(seed)
    dim = data.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = build_reducer("autoencoder", dim, components, hidden)
        decoder = nn.Sequential(nn.Linear(components, hidden), nn.ReLU(), nn.Linear(hidden, dim))
    scale = data.std(0).clamp_min(1e-6)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    for _ in range(epochs):
        for rows in torch.randperm(data.shape[0], generator=gen).split(128):
            batch = data[rows]
            loss = ((decoder(encoder(batch)) - batch) / scale).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return encoder
