"""What training under torchrun checks before it starts (see :mod:`feint.distributed`).

Every rank must train the same configuration on the same data with the same feint version, have
at least one training input, and see the same ``out`` folder, since each rank reads the checkpoint
there on ``--resume``. A resumed run must use as many ranks as the checkpoint: the effective batch
size (batch size x ranks) is part of what was trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from feint import distributed as fd
from feint.data.dataset import Dataset
from feint.errors import InputError

# Added to the per-batch seeds of rank r (times r), so ranks draw different random starts; rank 0
# draws what a single process draws.
RANK_SEED = 7_919_081


def check_training_job(
    config: dict[str, Any],
    model: nn.Module | str,
    arch_kwargs: dict[str, Any] | None,
    data: Dataset,
    out: str | Path | None,
) -> None:
    """One clear error on every rank unless every rank was started alike (see the module doc).
    Initial weights are not compared: DistributedDataParallel starts every rank from rank 0's."""
    arch = model if isinstance(model, str) else type(model).__name__
    fd.check_same_job(
        {"settings": fd.digest_json([config, arch, arch_kwargs]), "data": fd.digest_tensors(data.x, data.y)}
    )
    fd.check_enough_inputs(len(data), "training inputs")
    if out is not None:
        fd.require_shared_folder(out, "every rank reads the checkpoints there when training resumes")


def check_same_world(state: dict[str, Any], folder: Path) -> None:
    """A checkpoint made with another number of ranks is refused (its effective batch size differs)."""
    saved = int(state.get("world_size", 1))
    if saved != fd.world_size():
        raise InputError(
            f"the checkpoint in {folder} was trained on {saved} rank(s) (effective batch size "
            f"{state.get('effective_batch_size')}) but this run has {fd.world_size()}; resume with "
            f"{saved} process(es) (torchrun --nproc-per-node) or drop --resume and choose another --out"
        )
