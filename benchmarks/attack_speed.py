"""Benchmark: what PGD costs beyond its gradients, and what per-sample early stopping saves.

On one LeNet (trained here for a few epochs on the sklearn digits, or with ``--data
fashion-mnist`` a smaller LeNet on a Fashion-MNIST subset) and one batch of test images, the script
prints, from this run:

1. PGD's (Madry et al. 2018) time per step relative to a bare loop of forward + backward to the
   input on the same model and batch (``early_stop=False``). Target: <= 1.05. The bare loop
   evaluates exactly the points PGD evaluates (recorded once), because CPU kernels' speed depends
   on the input values (the clean digits, with many exact zeros, run markedly faster than points of
   the eps-ball; that loop is printed too, for reference). PGD pays, beyond the loop, its random
   start, a projection per step and one forward pass at the end that judges the final points; the
   shortest hand-written PGD loop pays the same, and its ratio is printed beside feint's.
2. For robust accuracy with PGD on the undefended model: the fraction of forward/backward work
   (queries, one per input row) and of wall time that per-sample early stopping saves, and the
   robust accuracy with and without it.

How the timing is made steady (both loops alike): one torch thread by default (with two threads on
a two-core machine any other process stalls a parallel region, and single runs swing by +-20%);
glibc is told to keep freed memory in the process (``mallopt``), since returning the large
activation buffers to the system and page-faulting them back in varies the speed of the same loop
by up to 30% between runs; after a warm-up the functions are timed interleaved, in alternating
order, and the ratio is the median of the per-repeat ratios, printed with its quartiles. With
``--threads 2`` on a two-core machine the ratio is higher and noisier for feint and the hand-written
loop alike: the convolutions run on both cores while the per-step projection and the final judging
forward's small kernels do not speed up as much.

    python benchmarks/attack_speed.py [--data digits|fashion-mnist] [--n 360] [--steps 40] [--threads 1]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

PGD's time per step against a bare forward+backward loop on the
same model and batch (target at most 1.05; 1.03-1.04 measured with one torch thread on the
digits LeNet, beside a hand-written PGD loop's 1.02-1.03), and what per-sample early stopping
saves when computing robust accuracy (29% of the queries there, 73% on Fashion-MNIST).
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import feint
from feint.attacks import AttackResult
from feint.attacks.pgd import pgd
from feint.data import Dataset, load

SMALL_LENET = {"channels": (16, 32), "hidden": 64}


def bare_loop(model: nn.Module, points: list[Tensor], y: Tensor) -> None:
    """Forward + backward to the input at each of ``points``: the floor any gradient attack pays."""
    for point in points:
        xx = point.detach().requires_grad_(True)
        loss = F.cross_entropy(model(xx), y, reduction="sum")
        torch.autograd.grad(loss, xx)


def handwritten_pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int, start: Tensor) -> Tensor:
    """The shortest Linf PGD loop one could write by hand (same step size, same final forward that judges
    the result): the reference for what the algorithm itself costs beyond the bare loop."""
    low, high = (x - eps).clamp_min(0), (x + eps).clamp_max(1)
    point = start
    for _ in range(steps):
        xx = point.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(xx), y, reduction="sum"), xx)
        point = torch.clamp(point + 2.5 * eps / steps * grad.sign(), low, high)
    with torch.no_grad():
        return model(point).argmax(1) != y


class Recorder(nn.Module):
    """Keeps a copy of every input the wrapped model is differentiated at."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.points: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        if x.requires_grad:
            self.points.append(x.detach().clone())
        return self.model(x)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks instead of unmapping them (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD); False if not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(-3, 1 << 30)) and bool(libc.mallopt(-1, 1 << 30))


def timed_repeats(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Warm every function up once, then time them interleaved ``repeats`` times (order reversed every
    other repeat, so drift hits all alike); seconds per call, per repeat."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    items = list(fns.items())
    for r in range(repeats):
        for name, fn in items if r % 2 == 0 else items[::-1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def data(name: str, train_size: int) -> tuple[Dataset, Dataset]:
    if name == "fashion-mnist":
        return load("fashion-mnist", "train").sample(train_size, seed=0), load("fashion-mnist", "test")
    return load("digits", "train"), load("digits", "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion-mnist"), default="digits")
    parser.add_argument("--n", type=int, default=360, help="test images in the batch")
    parser.add_argument("--train", type=int, default=3000, help="Fashion-MNIST training images")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40, help="PGD steps")
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steady = keep_freed_memory()

    train, test = data(args.data, args.train)
    t0 = time.perf_counter()
    arch = SMALL_LENET if args.data == "fashion-mnist" else {}
    model = feint.train("lenet", train, arch_kwargs=arch, epochs=args.epochs, lr=2e-3, seed=0, progress=False).model
    model.eval()
    x, y = test.x[: args.n], test.y[: args.n]
    with torch.no_grad():
        clean = float((model(x).argmax(1) == y).float().mean())
    print(
        f"{args.data}: LeNet trained in {time.perf_counter() - t0:.1f} s, clean accuracy {clean:.3f} on {len(y)} images"
    )
    print(f"torch threads: {torch.get_num_threads()}, PGD Linf eps={args.eps}, {args.steps} steps")
    print(f"glibc keeps freed memory: {'yes' if steady else 'no (not glibc; timings are noisier)'}\n")

    steps = args.steps
    recorder = Recorder(model)
    pgd(recorder, x, y, eps=args.eps, steps=steps, seed=0, early_stop=False)
    times = timed_repeats(
        {
            "bare": lambda: bare_loop(model, recorder.points, y),
            "pgd": lambda: pgd(model, x, y, eps=args.eps, steps=steps, seed=0, early_stop=False),
            "by hand": lambda: handwritten_pgd(model, x, y, args.eps, steps, recorder.points[0]),
        },
        args.repeats,
    )
    times |= timed_repeats({"clean": lambda: bare_loop(model, [x] * steps, y)}, max(3, args.repeats // 3))
    ms = {name: 1e3 * statistics.median(t) / steps for name, t in times.items()}
    q1, ratio, q3 = quartiles([p / b for p, b in zip(times["pgd"], times["bare"], strict=True)])
    print(f"(1) PGD per step vs. a bare forward+backward loop (early_stop=False, {args.repeats} interleaved repeats)")
    print(f"    bare loop at PGD's points {ms['bare']:.2f} ms/step (at the clean inputs {ms['clean']:.2f} ms/step)")
    hand = statistics.median([h / b for h, b in zip(times["by hand"], times["bare"], strict=True)])
    print(f"    PGD {ms['pgd']:.2f} ms/step; a hand-written PGD loop {ms['by hand']:.2f} ms/step (ratio {hand:.3f})")
    print(
        f"    ratio {ratio:.3f} (quartiles {q1:.3f}-{q3:.3f}; target <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'})"
    )

    def robust(early_stop: bool) -> AttackResult:
        return pgd(model, x, y, eps=args.eps, steps=steps, seed=0, early_stop=early_stop)

    full, stopped = robust(False), robust(True)
    times = timed_repeats({"full": lambda: robust(False), "stopped": lambda: robust(True)}, args.repeats)
    t_full, t_stop = statistics.median(times["full"]), statistics.median(times["stopped"])
    print("\n(2) robust accuracy with PGD on the undefended model, with and without early stopping")
    print(f"    robust accuracy: early_stop=False {full.accuracy:.4f}, early_stop=True {stopped.accuracy:.4f}")
    print(f"    queries: {full.queries} -> {stopped.queries}, saved {1 - stopped.queries / full.queries:.1%}")
    print(f"    time:    {t_full:.2f} s -> {t_stop:.2f} s, saved {1 - t_stop / t_full:.1%}")


if __name__ == "__main__":
    main()
