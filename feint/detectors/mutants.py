"""Generating a mutant pool, and the label change rate (LCR) of inputs over it.

Wang et al. 2019: a mutant is kept only when its clean accuracy is at least ``accuracy_ratio``
(90%) of the original's; the LCR of an input is the fraction of mutants whose label on it differs
from the original model's label. Candidates are drawn from one seeded generator, so the same
settings give the same pool. Shapes: x (N, C, H, W), y (N,), labels (M, N), LCR (N,).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from feint.attacks.result import predict_logits
from feint.detectors.batched import stacked_labels
from feint.detectors.operators import MutableLayer, Mutation, mutate
from feint.detectors.pool import MutantPool
from feint.errors import ModelError
from feint.progress import bar

CANDIDATE_CHUNK = 16
HOPELESS_AFTER = 64  # candidates without a single kept mutant before the rate is declared too high


def base_weights(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach() for k, v in model.named_parameters()}


def _stack(base: dict[str, Tensor], mutations: Sequence[Mutation]) -> dict[str, Tensor]:
    names = sorted({k for m in mutations for k in m})
    return {n: torch.stack([m.get(n, base[n].cpu()) for m in mutations]).to(base[n]) for n in names}


def generate_pool(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    operator: str,
    rate: float,
    size: int,
    layers: list[MutableLayer],
    accuracy_ratio: float,
    seed: int,
    pairs: int,
    progress: bool = False,
) -> MutantPool:
    """Draw candidates until ``size`` mutants pass the accuracy filter (at most ``4 * size`` tries)."""
    base = base_weights(model)
    base_cpu = {k: v.cpu() for k, v in base.items()}
    gen = torch.Generator().manual_seed(seed)
    original = float((predict_logits(model, x).argmax(1) == y).float().mean())
    floor = accuracy_ratio * original
    kept: list[Mutation] = []
    kept_acc: list[float] = []
    tried, best = 0, 0.0
    with bar(progress, total=size, desc=f"mutants ({operator})", unit="mutant") as pbar:
        while len(kept) < size and tried < 4 * size:
            candidates = [mutate(operator, base_cpu, layers, rate, gen) for _ in range(CANDIDATE_CHUNK)]
            accuracy = (stacked_labels(model, _stack(base, candidates), x, pairs=pairs) == y).float().mean(1)
            tried += len(candidates)
            best = max(best, float(accuracy.max()))
            for mutation, acc in zip(candidates, accuracy.tolist(), strict=True):
                if acc >= floor and len(kept) < size:
                    kept.append(mutation)
                    kept_acc.append(acc)
                    pbar.update(1)
            if not kept and tried >= HOPELESS_AFTER:
                break
    if not kept:
        raise ModelError(
            f"none of {tried} {operator.upper()} mutants at mutation rate {rate:g} kept {accuracy_ratio:.0%} of the "
            f"model's clean accuracy {original:.3f} (the best reached {best:.3f}); lower the mutation rate"
        )
    info = {
        "operator": operator,
        "rate": rate,
        "seed": seed,
        "layers": [layer.module for layer in layers],
        "original_accuracy": original,
        "accuracy_ratio": accuracy_ratio,
        "candidates_tried": tried,
    }
    return MutantPool.from_mutations(base, kept, kept_acc, info)


def mutant_labels(model: nn.Module, pool: MutantPool, x: Tensor, ids: Tensor, *, pairs: int) -> Tensor:
    """(len(ids), N) labels of the mutants ``ids`` on ``x``.

    The mutants are grouped by the first parameter they change, and a group stacks only the
    parameters its mutants change: ``vmap`` then runs every layer before them once for the whole
    group (a mutant that only touches the dense layers does not pay for the convolutions again).
    """
    base = base_weights(model)
    first = pool.first_change(list(base))[ids.cpu()]
    out = torch.empty(len(ids), x.shape[0], dtype=torch.long, device=x.device)
    for key in first.unique():
        rows = (first == key).nonzero().squeeze(1)
        stacked = pool.weights(base, ids.cpu()[rows])
        labels = stacked_labels(model, stacked, x, pairs=pairs) if stacked else predict_logits(model, x).argmax(1)
        out[rows.to(x.device)] = labels.expand(len(rows), -1) if not stacked else labels
    return out


def label_changes(
    model: nn.Module, pool: MutantPool, x: Tensor, *, pairs: int, chunk: int = 32, progress: bool = False
) -> Tensor:
    """(N, M) bool: mutant ``j`` labels input ``i`` differently from the original model. Chunks hold
    mutants that first change the same parameter, so each chunk shares the layers before it."""
    original = predict_logits(model, x).argmax(1)
    order = pool.first_change(list(base_weights(model))).argsort(stable=True)
    changes = torch.empty(x.shape[0], len(pool), dtype=torch.bool, device=x.device)
    for start in bar(progress, iterable=range(0, len(pool), chunk), desc="label change rate", unit="chunk"):
        ids = order[start : start + chunk]
        changes[:, ids.to(x.device)] = (mutant_labels(model, pool, x, ids, pairs=pairs) != original[None]).T
    return changes
