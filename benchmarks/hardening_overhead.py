"""Benchmark: what the non-finite check on every forward pass of an attack costs.

Every forward pass an attack makes goes through ``QueryCounter``, which since the bad-input
hardening checks the logits for NaN or infinity (one reduction and one host sync per pass). The
script times PGD-40 (Madry et al. 2018, Linf, no early stopping) on one LeNet and one batch of
digits with that check and with it patched out, interleaved in alternating order with one torch
thread, and prints the median per-repeat ratio with its quartiles. Expected: within noise of 1.

    python benchmarks/hardening_overhead.py [--n 360] [--steps 40] [--repeats 8]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

PGD-40 with the non-finite check every forward pass makes
against the same PGD without it (1.007, quartiles 0.95-1.04: within noise).
"""

from __future__ import annotations

import argparse
import statistics

import torch
from attack_speed import keep_freed_memory, timed_repeats
from torch import Tensor

from feint.attacks import core
from feint.attacks.pgd import pgd
from feint.data import load
from feint.training import train


def unchecked_forward(self: core.QueryCounter, x: Tensor) -> Tensor:
    """``QueryCounter.forward`` as it was before the check: count and call."""
    self.queries += int(x.shape[0])
    return self.model(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=360)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    model = train("lenet", load("digits", "train"), epochs=2, lr=3e-3, progress=False).model
    test = load("digits", "test")
    x, y = test.x[: args.n], test.y[: args.n]
    checked = core.QueryCounter.forward

    def with_forward(forward: object) -> None:
        core.QueryCounter.forward = forward  # type: ignore[method-assign]
        try:
            pgd(model, x, y, eps=0.1, steps=args.steps, early_stop=False, seed=0)
        finally:
            core.QueryCounter.forward = checked  # type: ignore[method-assign]

    times = timed_repeats(
        {"checked": lambda: with_forward(checked), "unchecked": lambda: with_forward(unchecked_forward)}, args.repeats
    )
    ratios = [a / b for a, b in zip(times["checked"], times["unchecked"], strict=True)]
    q1, q2, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"PGD-{args.steps} on {len(y)} digits, LeNet, 1 thread: time with the non-finite check / without = "
        f"{q2:.3f} (quartiles {q1:.3f}-{q3:.3f}, {args.repeats} repeats)"
    )


if __name__ == "__main__":
    main()
