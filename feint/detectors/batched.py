"""Many inputs x many mutants in one forward pass: ``torch.func.functional_call`` under ``vmap``.

A mutant is a set of weights, not a model: the weights of ``c`` mutants are stacked along a new
first dimension and ``vmap`` runs the one model over all of them at once (convolutions with
stacked weights become one grouped convolution, linear layers one batched matmul). Parameters no
mutant changed are shared, not copied. Models whose operations ``vmap`` cannot batch fall back to
one ``functional_call`` per mutant, still without copying the model.
Shapes: stacked weights (c, *shape); x (N, C, H, W); logits (c, N, K); labels (c, N).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from feint.attacks.core import eval_mode


def _logits_vmap(model: nn.Module, stacked: dict[str, Tensor], x: Tensor) -> Tensor:
    def one(weights: dict[str, Tensor]) -> Tensor:
        return functional_call(model, weights, (x,))

    return torch.vmap(one, randomness="error")(stacked)


def _logits_loop(model: nn.Module, stacked: dict[str, Tensor], x: Tensor) -> Tensor:
    count = next(iter(stacked.values())).shape[0]
    return torch.stack([functional_call(model, {k: v[j] for k, v in stacked.items()}, (x,)) for j in range(count)])


_NO_VMAP: set[int] = set()  # ids of model classes vmap failed on; they use the loop from then on


def stacked_logits(model: nn.Module, stacked: dict[str, Tensor], x: Tensor) -> Tensor:
    """(c, N, K) logits of ``model`` under each of ``c`` stacked weight sets, without gradients."""
    with torch.no_grad(), eval_mode(model):
        if not stacked:
            return model(x)[None]
        key = id(type(model))
        if key not in _NO_VMAP:
            try:
                return _logits_vmap(model, stacked, x)
            except (RuntimeError, NotImplementedError, ValueError):
                _NO_VMAP.add(key)
        return _logits_loop(model, stacked, x)


def stacked_labels(model: nn.Module, stacked: dict[str, Tensor], x: Tensor, *, pairs: int = 2048) -> Tensor:
    """(c, N) predicted labels, with at most ``pairs`` (input, mutant) rows per forward pass."""
    count = next(iter(stacked.values())).shape[0] if stacked else 1
    step = max(1, pairs // count)
    return torch.cat([stacked_logits(model, stacked, x[i : i + step]).argmax(2) for i in range(0, x.shape[0], step)], 1)
