"""Benchmark: what Square's stall rule saves, and what it misses, where the gradient dies (issue 20).

The fast-AT Fashion-MNIST CNN of ``benchmarks/audit_adaptive.py`` behind a Pillow JPEG round trip
(quality 75): no gradient reaches the input, so the audit's search on the model's own forward
(Square with AutoAttack's 5,000 queries and large first windows, ``p_init`` 0.8) is what measures it,
and AutoAttack's Square-5000 is the peer. In one run, on the same inputs, feint's Square with the
full budget and with each stall factor (:class:`feint.attacks.stall.StallRule`: at 250, 500, 1,000,
2,000 and 4,000 queries an input's search stops where its margin loss has not fallen to
``factor ** k`` of its start), eps 0.05 first and its breaks carried to 0.1 (as the audit does).
Rows through the CNN are counted by ``audit_adaptive.RowCount``. Printed per setting: rows per input
over the full budget's, robust accuracy at each eps, and the inputs the full budget broke that it
did not (the seeds are the same, but stopping inputs changes the random windows the others draw, so
a setting can also break inputs the full budget missed).

    OMP_NUM_THREADS=1 python benchmarks/search_budget.py [--n 100] [--start 0] [--factors 0.7,0.75,0.8,0.85]

Chosen offline first: each input's best margin after every query of the full search was recorded
(eps 0.05 and 0.1 searched alone, breaks at 0.05 carried to 0.1), and stop rules were replayed on the
recordings (a rule only decides when an input's search stops); chosen on inputs 0-99, then checked
on inputs 100-499. On those 400, the search's queries over the full budget's, and the full budget's
breaks missed at eps 0.05 + 0.1 (it breaks 55 and 255 of the 350 clean-correct inputs there):

- fixed budgets: 2,000 queries 0.45x, 13 + 36 missed; 3,000: 0.64x, 10 + 14; 4,000: 0.82x, 4 + 4;
- successive halving (at doubling checkpoints keep the 50-80% of the inputs still searching with the
  smallest margins): 0.15-0.54x, 4-76 missed (0.43x: 16);
- a per-input slope (stop where the margin, falling as over the last half or quarter of its queries,
  would not reach zero by 5,000-10,000 queries): 0.28-0.61x; none missed only from 0.53x;
- the stall rule (the margin loss at 0.8^k of its start by the k-th checkpoint): 0.37x, none missed
  (on the 100 it was chosen on: 0.35x, none); 0.85: 0.47x, none; 0.75: 0.29x, 2 + 3; 0.7: 0.22x, 6 + 8;
- searching eps 0.1 first and eps 0.05 only where it broke: 0.36x instead of 0.37x with the stall rule;
  starting one eps's search from the other's best point (clipped, or scaled up; 100 inputs) broke no
  more than a fresh start (11 and 50 of 82 inputs; two fresh runs 9-12 and 50-52).

Measured 2026-12-06 (one thread, 2 shared CPU cores), ``--n 500 --factors 0.8``, robust accuracy in %
at eps 0.05 / 0.1: the full budget 73.2 / 25.4 at 5,498 rows per input; the stall rule (0.8) 73.8 / 25.0
at 0.376x the rows. It missed 6 / 7 of the full budget's breaks and broke 3 / 9 inputs the full budget
missed: stopping inputs changes the windows the others draw, and two full searches with different seeds
differ by as much (on inputs 0-99, 12 and 9 breaks at eps 0.05, 13 together; AutoAttack's Square-5000
9, all among those 13). The audit's own figures: ``benchmarks/audit_adaptive.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from audit_adaptive import JpegRoundTrip, RowCount, trained
from torch import Tensor, nn

from feint.attacks.square import square
from feint.data import load

BUDGET = 5000  # AutoAttack's Square
LARGE_WINDOWS = 0.8  # AutoAttack's p_init


def search(
    model: nn.Module, counted: RowCount, x: Tensor, y: Tensor, eps_list: list[float], factor: float | None
) -> tuple[list[Tensor], int]:
    """Per eps, (N,) bool of the inputs still robust (clean-correct, not broken there or at a smaller eps);
    and the rows spent, the clean pass included."""
    counted.reset()
    with torch.no_grad():
        robust = model(x).argmax(1) == y
    after = []
    for e, eps in enumerate(eps_list):
        rows = robust.nonzero().squeeze(1)
        if rows.numel():
            res = square(
                model, x[rows], y[rows], eps=eps, n_queries=BUDGET, p_init=LARGE_WINDOWS, stall_factor=factor, seed=e
            )
            robust = robust.clone()
            robust[rows] = ~res.success
        after.append(robust)
    forward, backward = counted.reset()
    return after, forward + backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent / ".cache" / "adaptive")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument(
        "--start", type=int, default=0, help="first test input (e.g. 100: inputs not used to choose the factor)"
    )
    parser.add_argument("--eps", type=lambda s: [float(v) for v in s.split(",")], default=[0.05, 0.1])
    parser.add_argument("--factors", type=lambda s: [float(v) for v in s.split(",")], default=[0.7, 0.75, 0.8, 0.85])
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = load("fashion-mnist", "test")
    x, y = test.x[args.start : args.start + args.n], test.y[args.start : args.start + args.n]
    counted = RowCount(trained(args.cache, "fast-at"))
    model = nn.Sequential(JpegRoundTrip(), counted).eval()
    print(
        f"JPEG q75 + fast-AT CNN, Fashion-MNIST test inputs {args.start}-{args.start + args.n - 1}, Square-{BUDGET}, p_init {LARGE_WINDOWS}"
    )
    t0 = time.perf_counter()
    full, full_rows = search(model, counted, x, y, args.eps, None)
    print(
        f"{'setting':>14} {'rows/input':>10} {'x full':>7} "
        + " ".join(f"{'robust@' + format(e, 'g'):>11} {'missed':>6}" for e in args.eps)
        + "  seconds"
    )

    def line(name: str, robust: list[Tensor], rows: int, seconds: float) -> None:
        cells = []
        for e in range(len(args.eps)):
            cells.append(f"{100 * robust[e].float().mean():10.1f}% {int((robust[e] & ~full[e]).sum()):6d}")
        print(f"{name:>14} {rows / args.n:10.0f} {rows / full_rows:7.3f} " + " ".join(cells) + f"  {seconds:.0f}")

    line("full budget", full, full_rows, time.perf_counter() - t0)
    for factor in args.factors:
        t0 = time.perf_counter()
        robust, rows = search(model, counted, x, y, args.eps, factor)
        line(f"stall {factor:g}", robust, rows, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
