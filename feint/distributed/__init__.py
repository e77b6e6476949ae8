"""feint's long jobs under torchrun: rank and world size, sharding inputs, gathering results.

Start a command with ``torchrun --nproc-per-node K -m feint COMMAND ...`` (add ``--nnodes`` and a
rendezvous for several machines). Every rank runs the same command; feint joins the process
group torchrun prepared (gloo on CPU, NCCL on CUDA), checks that every rank was started alike,
shares the per-input work out, gathers the per-sample results and lets rank 0 alone write files.
Alone (plain ``python``/``feint``) every helper is a no-op and the job runs in one process.

The pattern for a long per-input command (what ``feint audit`` does)::

    from feint import distributed as fd

    device = fd.start(device)                          # join torchrun's group; this rank's device
    with fd.together("loading the model and data"):   # one clear error on every rank if one fails
        model, data = load(...)
    fd.check_same_job({"settings": digest(settings), "data": digest(x), "weights": digest(model)})
    fd.check_enough_inputs(len(x), "inputs")
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]  # the batches ONE process runs
    for c, part in fd.map_chunks(len(chunks), lambda c: attack(chunks[c]), device=device,
                                 keep_on_root={"x_adv"}):     # chunk c runs on rank c % K
        record(chunks[c], part)                    # every rank sees every chunk's small results
    if fd.is_root():
        write_report(...)                          # rank 0 writes; the others write nothing

Seeds belong to chunks (not to ranks), so K ranks compute what one process computes. Work that
does not depend on batching (an accuracy, a sum) can use :func:`shard` and :func:`all_reduce_sum`.
Training wraps the model with :func:`for_training` (DistributedDataParallel) and draws its batches
from :func:`epoch_order` (a DistributedSampler); each step's loss and ``backward`` run inside
:func:`group_work`, so that DDP's own collectives fail as clearly as feint's. A rank that dies makes the others raise
:class:`feint.errors.DistributedError` from their next collective.
"""

from feint.distributed.checks import (
    check_enough_inputs,
    check_same_job,
    digest_json,
    digest_tensors,
    require_shared_folder,
    together,
)
from feint.distributed.comm import (
    all_gather_json,
    all_reduce_sum,
    barrier,
    broadcast_json,
    broadcast_tensors,
    collective,
    gather_rows,
    group_work,
)
from feint.distributed.ddp import TrainingModel, epoch_order, for_training, match_root
from feint.distributed.env import (
    Launch,
    active,
    alone,
    alone_unless_distributed,
    backend,
    device_for_rank,
    finish,
    is_root,
    join,
    launched,
    rank,
    start,
    world_size,
)
from feint.distributed.rows import batch_seed, batch_slices, check_job, map_rows
from feint.distributed.shard import map_chunks, my_chunks, owner, shard

__all__ = [
    "Launch",
    "TrainingModel",
    "active",
    "all_gather_json",
    "all_reduce_sum",
    "alone",
    "alone_unless_distributed",
    "backend",
    "barrier",
    "batch_seed",
    "batch_slices",
    "broadcast_json",
    "broadcast_tensors",
    "check_enough_inputs",
    "check_job",
    "check_same_job",
    "collective",
    "device_for_rank",
    "digest_json",
    "digest_tensors",
    "epoch_order",
    "finish",
    "for_training",
    "gather_rows",
    "group_work",
    "is_root",
    "join",
    "launched",
    "map_chunks",
    "map_rows",
    "match_root",
    "my_chunks",
    "owner",
    "rank",
    "require_shared_folder",
    "shard",
    "start",
    "together",
    "world_size",
]
