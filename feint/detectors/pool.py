"""A pool of mutants: generated once (seeded), filtered by clean accuracy, saved as safetensors + JSON.

Wang et al. 2019 keep a mutant only when its accuracy on clean data is at least 90% of the
original model's (``accuracy_ratio``). A mutant is stored as the entries of the original's weights
it changed (flat index and new value per parameter, ``offsets`` marking where each mutant's
entries start), so a pool of hundreds of mutants costs a fraction of hundreds of models; the
stacked weights of a chunk of mutants are rebuilt on demand for batched evaluation.
Files: ``mutants.safetensors`` (``{param}/index``, ``{param}/value``, ``{param}/offsets``,
``accuracy``) and ``mutants.json`` (operator, rate, seed, sizes, accuracies, the parameter names).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from feint.detectors.base import read_tensors
from feint.detectors.operators import Mutation
from feint.errors import ModelError
from feint.io import write_json, write_with

POOL_TENSORS = "mutants.safetensors"
POOL_JSON = "mutants.json"


@dataclass(frozen=True)
class MutantPool:
    """Mutants as sparse edits of the original weights.

    ``index[p]`` / ``value[p]``: flat positions in parameter ``p`` and their new values, for all
    mutants one after another; ``offsets[p]`` (M + 1,): mutant ``j``'s entries are
    ``offsets[p][j]:offsets[p][j + 1]``. ``accuracy`` (M,): each mutant's clean accuracy.
    """

    shapes: dict[str, tuple[int, ...]]
    index: dict[str, Tensor]
    value: dict[str, Tensor]
    offsets: dict[str, Tensor]
    accuracy: Tensor
    info: dict[str, Any]

    def __len__(self) -> int:
        return int(self.accuracy.shape[0])

    @classmethod
    def from_mutations(
        cls, base: dict[str, Tensor], mutations: Sequence[Mutation], accuracy: Sequence[float], info: dict[str, Any]
    ) -> MutantPool:
        names = sorted({k for m in mutations for k in m})
        index, value, offsets = {}, {}, {}
        for name in names:
            flat_base = base[name].detach().cpu().reshape(-1)
            idx_parts, val_parts, ends = [], [], [0]
            for m in mutations:
                if name in m:
                    new = m[name].reshape(-1)
                    idx = (new != flat_base).nonzero().squeeze(1)
                    idx_parts.append(idx)
                    val_parts.append(new[idx])
                ends.append(ends[-1] + (int(idx_parts[-1].numel()) if name in m else 0))
            index[name] = torch.cat(idx_parts) if idx_parts else torch.zeros(0, dtype=torch.long)
            value[name] = torch.cat(val_parts) if val_parts else torch.zeros(0)
            offsets[name] = torch.tensor(ends, dtype=torch.long)
        shapes = {n: tuple(base[n].shape) for n in names}
        return cls(shapes, index, value, offsets, torch.tensor(list(accuracy), dtype=torch.float32), info)

    def weights(self, base: dict[str, Tensor], ids: Tensor) -> dict[str, Tensor]:
        """Stacked weights (len(ids), *shape) of the mutants ``ids``, on the device and dtype of ``base``;
        only the parameters some of them change (the others stay shared, unstacked)."""
        out = {}
        ids = ids.cpu()
        for name, shape in self.shapes.items():
            starts, ends = self.offsets[name][ids], self.offsets[name][ids + 1]
            counts = ends - starts
            if not int(counts.sum()):
                continue
            ref = base[name]
            stacked = ref.detach().reshape(1, -1).repeat(len(ids), 1)
            pos = torch.cat([torch.arange(int(s), int(e)) for s, e in zip(starts, ends, strict=True)])
            rows = torch.repeat_interleave(torch.arange(len(ids)), counts)
            stacked[rows.to(ref.device), self.index[name][pos].to(ref.device)] = self.value[name][pos].to(ref)
            out[name] = stacked.view(len(ids), *shape)
        return out

    def first_change(self, order: Sequence[str]) -> Tensor:
        """(M,) position in ``order`` (parameter names) of the first parameter each mutant changes."""
        first = torch.full((len(self),), len(order), dtype=torch.long)
        for i, name in reversed(list(enumerate(order))):
            if name in self.offsets:
                first = torch.where(self.offsets[name].diff() > 0, i, first)
        return first

    def save(self, directory: str | os.PathLike[str]) -> None:
        out = Path(directory)
        tensors = {"accuracy": self.accuracy}
        for name in self.shapes:
            tensors |= {f"{name}/index": self.index[name], f"{name}/value": self.value[name]}
            tensors[f"{name}/offsets"] = self.offsets[name]
        tensors = {k: v.contiguous() for k, v in tensors.items()}
        write_with(out / POOL_TENSORS, lambda tmp: save_file(tensors, str(tmp)))
        shapes = {k: list(v) for k, v in self.shapes.items()}
        write_json(
            out / POOL_JSON, {**self.info, "size": len(self), "shapes": shapes, "accuracy": self.accuracy.tolist()}
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> MutantPool:
        path = Path(directory) / POOL_JSON
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            shapes = {k: tuple(int(d) for d in v) for k, v in doc["shapes"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{path} is missing or not a mutant pool description ({exc}); fit the detector again"
            ) from exc
        tensors = read_tensors(Path(directory) / POOL_TENSORS)
        try:
            parts = {part: {n: tensors[f"{n}/{part}"] for n in shapes} for part in ("index", "value", "offsets")}
            accuracy = tensors["accuracy"]
        except KeyError as exc:
            raise ModelError(f"{directory} lacks the mutant tensor {exc}; fit the detector again") from exc
        info = {k: v for k, v in doc.items() if k not in ("size", "shapes", "accuracy")}
        return cls(shapes, parts["index"], parts["value"], parts["offsets"], accuracy, info)
