"""Jobs the distributed tests run on each rank of a 2-process gloo group on 127.0.0.1.

:func:`launch` starts one ``spawn`` process per rank with the environment torchrun would set; each
records what it returned or raised, and every file it wrote, in ``results/rank<R>.json``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import traceback
from pathlib import Path
from typing import Any

import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    job: str, args: dict[str, Any], results: Path, *, world: int = 2, timeout: float = 240
) -> list[dict[str, Any]]:
    """Run ``job`` on ``world`` ranks; return each rank's record (exit code included)."""
    results.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, job, args, str(results))) for r in range(world)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    records = []
    for r, p in enumerate(procs):
        path = results / f"rank{r}.json"
        record = json.loads(path.read_text()) if path.is_file() else {}
        records.append({**record, "exitcode": p.exitcode})
    return records


def _rank_main(rank: int, world: int, port: int, job: str, args: dict[str, Any], results: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        FEINT_DIST_TIMEOUT="120",
    )
    import torch

    torch.set_num_threads(1)
    writes = _record_writes()
    record: dict[str, Any] = {}
    settled = False
    try:
        record["result"] = JOBS[job](rank, **args)
        settled = True
    except Exception as exc:  # the test checks which error each rank raised
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record["writes"] = writes
    Path(results, f"rank{rank}.json").write_text(json.dumps(record))
    from feint import distributed as fd

    fd.finish(settled=settled)


def _record_writes() -> list[str]:
    """Every file this process writes through feint.io or the audit's point store."""
    import feint.io
    from feint.capabilities.audit.points import PointStore

    writes: list[str] = []
    real_atomic, real_create = feint.io.atomic_path, PointStore.create

    def atomic(path: Any) -> Any:
        writes.append(str(path))
        return real_atomic(path)

    def create(self: PointStore) -> PointStore:
        writes.append(str(self.path))
        return real_create(self)

    feint.io.atomic_path = atomic  # type: ignore[assignment]
    PointStore.create = create  # type: ignore[method-assign]
    return writes


def _data(n: int) -> Any:
    from feint.data import load

    return load("digits", "test").head(n)


def escalating_preset() -> Any:
    """A preset whose weak attacks leave the evaluation unconverged on a digits LeNet, so that it
    escalates: FGSM beats them (a check warns at every eps > 0), the first rung breaks inputs at two
    eps and the second runs only there (``preset="escalating"`` in :func:`audit_job`)."""
    from feint.capabilities.audit.presets import AttackPlan, Preset

    gauge = {"steps": 1, "n_target_classes": 1, "first_target": 2}
    return Preset(
        "escalating",
        (
            AttackPlan("fgsm", "white-box", standalone=True),
            AttackPlan("apgd-ce", "white-box", {"steps": 1, "restarts": 1}),
            AttackPlan("apgd-t", "white-box", gauge, min_classes=4, label="apgd-t #2", gauge="gain"),
        ),
        escalation=(
            AttackPlan("pgd", "white-box", {"steps": 20}, label="pgd x20"),
            AttackPlan("apgd-t", "white-box", {"steps": 10, "n_target_classes": 9}, min_classes=4, label="apgd-t x9"),
        ),
    )


def audit_job(rank: int, *, model: str, out: str, n: int = 48, die_after: int | None = None, **kw: Any) -> Any:
    """An audit; with ``die_after``, rank 1 kills itself (SIGKILL) after that many finished units."""
    import feint
    from feint.models import load_model

    data = _data(n)
    if kw.get("preset") == "escalating":  # a Preset does not travel to a spawned process
        kw["preset"] = escalating_preset()

    def callback(key: str, done: int, total: int) -> None:
        if die_after is not None and rank == 1 and done == die_after:
            os.kill(os.getpid(), signal.SIGKILL)

    report = feint.audit(
        load_model(model), data.x, data.y, out=out, data_info=data.info, progress=False, callback=callback, **kw
    )
    return {"report": report.to_dict(), "notes": list(report.notes)}


def train_job(
    rank: int,
    *,
    out: str,
    epochs: int,
    resume: bool = False,
    die_in_epoch: int | None = None,
    collapse_in_epoch: int | None = None,
    **kw: Any,
) -> Any:
    """Training; with ``die_in_epoch``, rank 1 kills itself (SIGKILL) in that epoch's first batch;
    with ``collapse_in_epoch``, the guard (which only rank 0 may run) reports a collapse then."""
    import feint
    import feint.training.loop as loop
    from feint.data import load

    if collapse_in_epoch is not None:
        _collapse_guard(rank, collapse_in_epoch)
    train = load("digits", "train")
    if die_in_epoch is not None and rank == 1:
        per_rank = math.ceil(len(train) / 2)
        per_epoch = math.ceil(per_rank / int(kw.get("batch_size", 64)))  # batches per rank and epoch
        calls, hook = [0], loop.batch_loss

        def dying(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] > (die_in_epoch - 1) * per_epoch:
                os.kill(os.getpid(), signal.SIGKILL)
            return hook(*args, **kwargs)

        loop.batch_loss = dying  # type: ignore[assignment]
    result = feint.train("mlp", train, _data(360), out=out, epochs=epochs, resume=resume, progress=False, **kw)
    kept = ("epoch", "loss", "test_accuracy", "collapsed")  # not clocks, which differ per rank
    return {
        "test_accuracy": result.test_accuracy,
        "history": [{k: h[k] for k in kept if k in h} for h in result.history],
    }


def _collapse_guard(rank: int, epoch: int) -> None:
    from feint.defenses.guard import GuardVerdict, OverfitGuard

    calls, real = [0], OverfitGuard.check

    def check(self: OverfitGuard, model: Any) -> GuardVerdict:
        assert rank == 0, "only rank 0 runs the guard"
        calls[0] += 1
        return GuardVerdict(0.0, True) if calls[0] == epoch else real(self, model)

    OverfitGuard.check = check  # type: ignore[method-assign]


def bad_inputs_job(rank: int, *, model: str, tmp: str) -> Any:
    """Each bad start on every rank; the error (or None) each raised."""
    import feint
    from feint.models import load_model

    net, data = load_model(model), _data(24)
    common = {"eps": [0.0, 0.1], "preset": "quick", "data_info": data.info, "progress": False}
    cases = {
        "other_seed": lambda: feint.audit(net, data.x, data.y, seed=rank, out=f"{tmp}/seed", **common),
        "other_data": lambda: feint.audit(net, data.x[rank:], data.y[rank:], out=f"{tmp}/data", **common),
        "too_few_inputs": lambda: feint.audit(net, data.x[:1], data.y[:1], out=f"{tmp}/few", **common),
        "folder_not_shared": lambda: feint.train("mlp", _train(), out=f"{tmp}/run{rank}", epochs=1, progress=False),
        "other_version": lambda: _with_version(
            rank, lambda: feint.audit(net, data.x, data.y, out=f"{tmp}/v", **common)
        ),
    }
    errors: dict[str, Any] = {}
    few_batches = feint.audit(net, data.x, data.y, batch_size=100, **common)  # 1 batch for 2 ranks: a note
    errors["idle_note"] = [n for n in few_batches.notes if "some ranks had no work" in n]
    errors["buffers_matched"] = _buffers_matched(rank)
    errors["group_work"] = _group_work()
    for name, case in cases.items():
        try:
            case()
            errors[name] = None
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
    return errors


def _group_work() -> list[str]:
    """What fd.group_work makes of a failure of the group and of an error of the model's own."""
    from feint import distributed as fd

    seen = []
    for message in ("[third_party/gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer", "bad shapes"):
        try:
            with fd.group_work("training (epoch 1, batch 1)"):
                raise RuntimeError(message)
        except Exception as exc:
            seen.append(f"{type(exc).__name__}: {exc}".replace(f"rank {fd.rank()} ", "rank R "))
    return seen


def _buffers_matched(rank: int) -> bool:
    """BatchNorm statistics that differ per rank (rank r holds r everywhere) are rank 0's after
    match_root(buffers_only=True); the weights are left alone."""
    import torch

    from feint import distributed as fd
    from feint.models import create_model

    net = create_model("resnet", input_shape=(1, 8, 8), num_classes=10, width=4)
    weights = [p.detach().clone() for p in net.parameters()]
    for buf in net.buffers():
        buf.fill_(rank)
    fd.match_root(net, buffers_only=True)
    same_weights = all(torch.equal(a, b) for a, b in zip(weights, net.parameters(), strict=True))
    return same_weights and all(bool((b == 0).all()) for b in net.buffers())


def _train() -> Any:
    from feint.data import load as load_data

    return load_data("digits", "train").head(200)


def _with_version(rank: int, fn: Any) -> Any:
    import feint.version

    real = feint.version.__version__
    feint.version.__version__ = real if rank == 0 else "0.0.1"
    try:
        return fn()
    finally:
        feint.version.__version__ = real


def recipes_job(rank: int, *, out: str, sources: list[str]) -> Any:
    """pgd-at, ensemble-at (static sources read on every rank) and distill (a teacher phase, then
    the student) under DDP, each for one short run; what each returned."""
    import feint
    from feint.data import load as load_data

    train, test = load_data("digits", "train").head(800), _data(120)
    recipes = {
        "pgd-at": {"eps": 0.1, "steps": 2},
        "ensemble-at": {"eps": 0.1, "sources": sources},
        "distill": {"temperature": 20.0, "teacher_epochs": 1},
    }
    results = {}
    for name, options in recipes.items():
        result = feint.train(
            "mlp", train, test, recipe=name, recipe_options=options, epochs=2, lr=3e-3, batch_size=32, seed=0,
            out=f"{out}/{name}", progress=False,
        )  # fmt: skip
        results[name] = {"test_accuracy": result.test_accuracy, "losses": [h["loss"] for h in result.history]}
    return results


def commands_job(rank: int, *, folder: str, out: str) -> Any:
    """physical, blackbox, transfer --matrix and detect eval through their Python calls (see
    ``test_distributed_commands.commands``): their figures, then the errors of bad starts."""
    from test_distributed_commands import bad_starts, run_commands

    return {"figures": run_commands(folder, out=out), "bad": bad_starts(folder, rank)}


JOBS = {"audit": audit_job, "train": train_job, "bad": bad_inputs_job, "recipes": recipes_job, "commands": commands_job}


def oracle_audit_job(rank: int, *, n: int = 24, **kw: Any) -> Any:
    """A query-only audit (scores of a linear digits model); its report and this rank's own queries."""
    from streaming_model import linear

    import feint
    from feint.oracles import as_oracle

    data = _data(n)
    oracle = as_oracle(linear(), access="scores")
    report = feint.audit(oracle, data.x, data.y, data_info=data.info, progress=False, **kw)
    return {"report": report.to_dict(), "mine": oracle.queries}


def matrix_job(rank: int, **kw: Any) -> Any:
    """``transfer_matrix`` on digits; the report and the (technique, half size) of every fit this rank ran."""
    import feint.capabilities.transfer.matrix as matrix
    from feint.capabilities.transfer.techniques import TechniqueSettings
    from feint.data import load

    fits: list[list[Any]] = []
    real = matrix.fit_techniques

    def counted(names: list[str], data: Any, **options: Any) -> Any:
        fits.append([*names, len(data)])
        return real(names, data, **options)

    matrix.fit_techniques = counted  # type: ignore[assignment]
    settings = TechniqueSettings(dnn_arch="mlp", dnn_epochs=1, substitute_epochs=2)
    train, test = load("digits", "train").head(200), load("digits", "test").head(24)
    report = matrix.transfer_matrix(train, test, settings=settings, progress=False, **kw)
    return {"report": report.data, "fits": fits}


def no_waste_job(rank: int, *, oracle: dict[str, Any], matrix: dict[str, Any]) -> Any:
    """:func:`oracle_audit_job` then :func:`matrix_job` in the same ranks (one start-up for both)."""
    return {"oracle": oracle_audit_job(rank, **oracle), "matrix": matrix_job(rank, **matrix)}


JOBS["no_waste"] = no_waste_job
