"""Data-parallel training: DistributedDataParallel around the model, a distributed sampler for the data.

DistributedDataParallel (Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data
Parallel Training") averages the gradients of every rank during ``backward``. Training recipes
attack the model inside their per-batch loss; those extra forward passes (eval mode, gradients
with respect to the input only) must not enter DDP, whose buffer broadcasts would then need every
rank to run the same number of attack steps. :class:`TrainingModel` therefore sends train-mode
forward passes with gradients through DDP and every other call straight to the model.
"""

from __future__ import annotations

import warnings
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler

from feint.distributed.comm import broadcast_tensors
from feint.distributed.env import active, rank, world_size


class TrainingModel(nn.Module):
    """``model`` for one rank of a data-parallel run; ``.module`` is the model itself."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        ids = [device] if device.type == "cuda" else None
        # A convolution over one input channel returns gradients whose stride on that size-1
        # dimension differs from the bucket's only nominally; DDP warns about it on every rank.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides", category=UserWarning)
        self.ddp = DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True)
        self.train(model.training)

    @property
    def module(self) -> nn.Module:
        return self.ddp.module

    def forward(self, x: Tensor) -> Tensor:
        if self.training and torch.is_grad_enabled():
            return self.ddp(x)
        return self.module(x)


def for_training(model: nn.Module, device: torch.device) -> nn.Module:
    """The model a training step calls: a :class:`TrainingModel` under torchrun, ``model`` alone."""
    return TrainingModel(model, device) if active() else model


def match_root(model: nn.Module, *, buffers_only: bool = False) -> None:
    """Give every rank rank 0's weights and buffers, or only its buffers. DDP keeps the parameters
    equal but each rank's BatchNorm statistics drift with its own batches: matched at every epoch's
    end, every rank evaluates (and a recipe's end-of-epoch check decides on) the model rank 0
    saves, and a resumed run, which loads rank 0's checkpoint everywhere, continues as one that
    was never stopped."""
    if not active():
        return
    state = dict(model.named_buffers()) if buffers_only else model.state_dict()
    if not state:
        return
    device = next(iter(state.values())).device
    shared = broadcast_tensors(state if rank() == 0 else None, "sharing the weights", device=device)
    if buffers_only:
        with torch.no_grad():
            for name, buf in model.named_buffers():
                buf.copy_(shared[name])
    else:
        model.load_state_dict(shared)


def epoch_order(n: int, *, seed: int, epoch: int) -> Tensor:
    """This rank's sample indices for ``epoch``: one seeded permutation of ``range(n)`` shared by all
    ranks (``torch.randperm`` seeded with ``seed + epoch``), padded to a multiple of K and dealt
    round-robin, so every rank runs the same number of batches. Alone: the whole permutation."""
    indices = cast("Dataset[int]", range(n))  # the sampler only needs len()
    sampler: DistributedSampler[int] = DistributedSampler(
        indices, num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)
