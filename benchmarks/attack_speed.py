"""Benchmark: what PGD costs beyond its gradients, and what per-sample early stopping saves.

On one LeNet (trained here for a few epochs on the sklearn digits, or with ``--data
fashion-mnist`` a smaller LeNet on a Fashion-MNIST subset) and one batch of test images, the script prints, from this run:

1. PGD's (Madry et al. 2018) time per step relative to a bare loop of forward + backward to the
   input on the same model and batch (``early_stop=False``; warm-up, then the median of
   interleaved repeats). Target: <= 1.05. The bare loop evaluates exactly the points PGD
   evaluates (recorded once), because CPU kernels' speed depends on the input values (the clean
   digits, with many exact zeros, run markedly faster than points of the eps-ball; that loop is
   printed too, for reference).
2. For robust accuracy with PGD on the undefended model: the fraction of forward/backward work
   (queries, one per input row) and of wall time that per-sample early stopping saves, and the
   robust accuracy with and without it.

    python benchmarks/attack_speed.py [--data digits|fashion-mnist] [--n 360] [--steps 40] [--threads 2]
"""

from __future__ import annotations

import argparse
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


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Warm every function up once, then time them interleaved ``repeats`` times; medians in seconds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


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
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

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
    print(f"torch threads: {torch.get_num_threads()}, PGD Linf eps={args.eps}, {args.steps} steps\n")

    steps = args.steps
    recorder = Recorder(model)
    pgd(recorder, x, y, eps=args.eps, steps=steps, seed=0, early_stop=False)
    timed = median_seconds(
        {
            "clean": lambda: bare_loop(model, [x] * steps, y),
            "bare": lambda: bare_loop(model, recorder.points, y),
            "pgd": lambda: pgd(model, x, y, eps=args.eps, steps=steps, seed=0, early_stop=False),
        },
        args.repeats,
    )
    ms = {name: 1e3 * t / steps for name, t in timed.items()}
    print("(1) PGD per step vs. a bare forward+backward loop (early_stop=False, median of repeats)")
    print(f"    bare loop at PGD's points {ms['bare']:.2f} ms/step (at the clean inputs {ms['clean']:.2f} ms/step)")
    print(f"    PGD {ms['pgd']:.2f} ms/step, ratio {ms['pgd'] / ms['bare']:.3f} (target <= 1.05)")

    def robust(early_stop: bool) -> AttackResult:
        return pgd(model, x, y, eps=args.eps, steps=steps, seed=0, early_stop=early_stop)

    full, stopped = robust(False), robust(True)
    timed = median_seconds({"full": lambda: robust(False), "stopped": lambda: robust(True)}, args.repeats)
    t_full, t_stop = timed["full"], timed["stopped"]
    print("\n(2) robust accuracy with PGD on the undefended model, with and without early stopping")
    print(f"    robust accuracy: early_stop=False {full.accuracy:.4f}, early_stop=True {stopped.accuracy:.4f}")
    print(f"    queries: {full.queries} -> {stopped.queries}, saved {1 - stopped.queries / full.queries:.1%}")
    print(f"    time:    {t_full:.2f} s -> {t_stop:.2f} s, saved {1 - t_stop / t_full:.1%}")


if __name__ == "__main__":
    main()
