"""Benchmark: HopSkipJump against the Adversarial Robustness Toolbox's, over HTTP, and feint serve's latency.

1. feint's HopSkipJump (Chen, Jordan & Wainwright 2020; L2, untargeted) against ART's
   ``HopSkipJump`` on the same Fashion-MNIST CNN (``audit_speed.py``'s plain model, cached), the
   same correctly classified test images and the same settings (B0=100 probes, at most 10,000,
   100 random starts), at per-image budgets of 1k and 5k queries. ART has no query budget: every
   model call is counted per image, the call that reaches the budget is answered for the rows
   that fit and ends the image (so both spend the whole budget), and ART is credited with the
   smallest L2 among the adversarial points it queried within it (at least as good as what it
   would have returned). ART draws its random numbers unseeded, so one run's median L2 moves by a
   few percent between runs (the median of 50 images often falls in a gap of the distribution):
   the table shows the median over repeats of each repeat's median L2 (feint seeded 0, 1, ... per
   repeat), and "no worse" is judged image by image: the median over images of feint's L2 over
   ART's, each the median over repeats, at most 1. Targets: L2 no worse than ART's; wall time
   <= 0.5x ART's.
2. The same feint run through ``feint serve`` on 127.0.0.1 (binary tensors) against in-process.
   Target: <= 2x.
3. ``feint serve`` throughput and p50/p99 latency with 1, 16 and 200 concurrent clients, each
   sending one-image JSON requests.

One torch thread per process; ART is installed by ``pip install -e '.[bench]'``.

Timed pairs run ``--repeats`` times interleaved, order reversed every other repeat; the ratio is the
median of the per-repeat ratios (shared CPUs drift).

    python benchmarks/blackbox_speed.py [--n 100] [--budgets 1000,5000] [--repeats 3] [--requests 2000]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

(needs the `bench` extra, which `make bench` installs): feint's
HopSkipJump against the Adversarial Robustness Toolbox's on the same Fashion-MNIST CNN, images
and per-image budgets (1k, 5k queries; ART's request that reaches the budget is answered for the
rows that fit, so both spend the whole budget, and ART is credited with the closest adversarial
point it queried), targets L2 no worse and wall time <= 0.5x; the same run through `feint serve`
on localhost against in-process (target <= 2x); and `feint serve`'s throughput and p50/p99
latency at 1, 16 and 200 concurrent clients. Timed pairs run interleaved (`--repeats`), the
ratio is the median of per-repeat ratios. ART is unseeded and the median of 50 images moves by
4% between two of its runs, so "no worse" is judged image by image (median over images of
feint's L2 over ART's, each the median over repeats). Measured with
`python benchmarks/blackbox_speed.py --n 50 --repeats 3` (one thread, 2 shared cores, the test
suite running beside it): at 1k, median L2 feint 1.698 / ART 1.796, per image 0.997x, wall time
0.44x; at 5k, 1.180 / 1.181, per image 0.998x, wall time 0.46x (met); through `feint serve`
1.64x in-process, same result (met); serve 574 / 480 / 175 requests/s with p50 1.7 / 18 / 460 ms
and p99 2.4 / 172 / 6596 ms at 1 / 16 / 200 clients. Where the speed comes from: both spend the
same forward passes of the same CNN, which are 85-90% of feint's time; a module oracle (and
`feint serve`) runs a convolutional net on the CPU in channels_last layout
(`feint/oracles/forward.py`: the kernels copied once, the inputs restrided, the model itself
untouched), which oneDNN's convolution and max-pooling run several times faster than NCHW, and
batches every search over the images. HopSkipJump's `gamma` is 8 by default (ART's threshold is
the same; the paper's 1 measured slightly worse at both budgets). Earlier runs of the same
command that day, with ART stopped before the request that would pass the budget (4,675 of 5,000
queries at 5k): wall time 0.42-0.48x at 1k and 0.52-0.55x at 5k; with it answered in part,
0.41x / 0.49x, where the 5k medians were 1.180 against ART's 1.136 (three ART runs whose medians
landed in the same gap; per image the two were equal in a separate check, 0.991x).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import torch
from attack_speed import keep_freed_memory
from audit_speed import CACHE, trained
from torch import Tensor, nn

from feint.attacks import hopskipjump
from feint.data import load
from feint.models import resolve, save_model

SPENT: dict[str, int] = {}
"""Queries the last run of each implementation spent, all images together."""


class Budget(Exception):
    """ART reached the query budget of the current image."""


def art_hopskipjump(model: nn.Module, x: Tensor, y: Tensor, budget: int) -> tuple[list[float], float]:
    """Per image: the smallest L2 among the adversarial points ART queried within ``budget``; total seconds."""
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import PyTorchClassifier

    state: dict[str, Any] = {"used": 0, "best": math.inf, "x": np.zeros(1), "y": 0}

    class Counted(PyTorchClassifier):  # type: ignore[misc]
        def predict(self, inputs: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
            rows = inputs[: budget - state["used"]]  # a request past the budget: only the rows that fit
            if len(rows) == 0:
                raise Budget
            state["used"] += len(rows)
            out = super().predict(rows.astype(np.float32), *args, **kwargs)
            adv = out.argmax(1) != state["y"]
            if adv.any():
                d = np.linalg.norm((rows[adv] - state["x"]).reshape(int(adv.sum()), -1), axis=1)
                state["best"] = min(state["best"], float(d.min()))
            if len(rows) < len(inputs):
                raise Budget
            return out

    clf = Counted(model, loss=nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]), nb_classes=10, clip_values=(0, 1))
    attack = HopSkipJump(clf, norm=2, max_iter=10_000, max_eval=10_000, init_eval=100, init_size=100, verbose=False)
    best, spent, t0 = [], 0, time.perf_counter()
    for i in range(x.shape[0]):
        xi = x[i : i + 1].numpy()
        state.update(used=0, best=math.inf, x=xi, y=int(y[i]))
        with contextlib.suppress(Budget):
            attack.generate(x=xi)
        best.append(state["best"])
        spent += state["used"]
    SPENT["ART"] = spent
    return best, time.perf_counter() - t0


def feint_hopskipjump(target: object, x: Tensor, y: Tensor, budget: int, seed: int) -> tuple[list[float], float]:
    t0 = time.perf_counter()
    res = hopskipjump(target, x, y, norm="2", max_queries=budget, seed=seed)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    SPENT["feint"] = res.queries
    return [float(d) if s else math.inf for d, s in zip(res.distance, res.success, strict=True)], seconds


Run = Callable[[int], tuple[list[float], float]]
PerRepeat = list[list[float]]


def interleaved(runs: dict[str, Run], repeats: int) -> tuple[tuple[PerRepeat, PerRepeat], float, float, float]:
    """Run the two ``runs`` ``repeats`` times (each given the repeat's index), order reversed every
    other repeat (drift hits both alike): (their per-image L2 of every repeat, the median of the
    per-repeat time ratios first/second, the median seconds of each)."""
    (first, run_a), (second, run_b) = runs.items()
    l2: dict[str, PerRepeat] = {first: [], second: []}
    seconds: dict[str, list[float]] = {first: [], second: []}
    for r in range(repeats):
        for name, run in ((first, run_a), (second, run_b)) if r % 2 == 0 else ((second, run_b), (first, run_a)):
            dists, took = run(r)
            l2[name].append(dists)
            seconds[name].append(took)
    ratio = statistics.median(a / b for a, b in zip(seconds[first], seconds[second], strict=True))
    return (l2[first], l2[second]), ratio, statistics.median(seconds[first]), statistics.median(seconds[second])


def paired_ratio(ours: PerRepeat, theirs: PerRepeat) -> float:
    """Median over images of our L2 over theirs, each the image's median over repeats (a failure on
    both sides counts as a tie)."""
    ratios = []
    for f, a in zip(zip(*ours, strict=True), zip(*theirs, strict=True), strict=True):
        mine, other = statistics.median(f), statistics.median(a)
        ratios.append(1.0 if math.isinf(mine) and math.isinf(other) else mine / other)
    return statistics.median(ratios)


def start_server(run_dir: str, port: int, *extra: str) -> subprocess.Popen:
    """``feint serve`` of ``run_dir`` as model "cnn" on 127.0.0.1:``port`` (``extra``: more options), once ready."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "feint", "serve", "--model", run_dir, "--port", str(port), "--name", "cnn", *extra]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("feint serve did not start")


async def load_test(url: str, x: Tensor, clients: int, requests: int) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) with ``clients`` concurrent clients sending ``requests`` in all."""
    bodies = [
        json.dumps({"inputs": [{"name": "input", "shape": [1, *x.shape[1:]], "datatype": "FP32", "data": row.flatten().tolist()}]})
        for row in x[:64]
    ]  # fmt: skip
    latencies: list[float] = []

    async def client(c: httpx.AsyncClient, k: int) -> None:
        for j in range(max(2, requests // clients)):
            t0 = time.perf_counter()
            reply = await c.post(url, content=bodies[(k + j) % len(bodies)])
            reply.raise_for_status()
            latencies.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c, k) for k in range(clients)))
        total = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return len(latencies) / total, q[49] * 1000, q[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="test images attacked")
    parser.add_argument("--budgets", default="1000,5000", help="queries per image")
    parser.add_argument("--train", type=int, default=20000, help="training images of the cached CNN")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000, help="requests per load-test level")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each timed pair")
    args = parser.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    CACHE.mkdir(parents=True, exist_ok=True)
    train = load("fashion-mnist", "train").sample(args.train, seed=0)
    test = load("fashion-mnist", "test")
    model = trained("plain", train, test.head(1000), epochs=args.epochs, adv=None).eval()
    with torch.no_grad():
        ok = (model(test.x[:2000]).argmax(1) == test.y[:2000]).nonzero().squeeze(1)[: args.n]
    x, y = test.x[ok], test.y[ok]
    print(f"{len(y)} correctly classified Fashion-MNIST test images, L2, untargeted")
    print(
        f"{'budget':>7}  {'feint median L2':>15}  {'ART median L2':>13}  {'feint s':>8}  {'ART s':>8}  {'time ratio':>10}"
    )
    verdicts = []
    for budget in (int(b) for b in args.budgets.split(",")):
        runs: dict[str, Run] = {  # called within this iteration: budget is this one
            "feint": lambda r: feint_hopskipjump(model, x, y, budget, seed=r),  # noqa: B023
            "ART": lambda _: art_hopskipjump(model, x, y, budget),  # noqa: B023
        }
        (ours, theirs), ratio, t_ours, t_art = interleaved(runs, args.repeats)
        m_ours, m_art = (statistics.median(statistics.median(run) for run in runs) for runs in (ours, theirs))
        paired = paired_ratio(ours, theirs)
        verdicts += [paired <= 1, ratio <= 0.5]
        print(f"{budget:>7}  {m_ours:>15.4f}  {m_art:>13.4f}  {t_ours:>8.1f}  {t_art:>8.1f}  {ratio:>10.3f}")
        spread = {
            name: [round(statistics.median(run), 4) for run in runs]
            for name, runs in (("feint", ours), ("ART", theirs))
        }
        print(f"         median L2 of each repeat: {spread}")
        print(
            f"         per image, feint's L2 / ART's (each the median over repeats), median over images: {paired:.4f}"
        )
        per_query = (t_ours / SPENT["feint"]) / (t_art / SPENT["ART"])
        print(
            f"         queries per image: feint {SPENT['feint'] / len(y):.0f}, ART {SPENT['ART'] / len(y):.0f}; "
            f"time per query {per_query:.3f}x ART's"
        )
    run_dir = CACHE / "blackbox-cnn"
    save_model(model, run_dir, arch="lenet", arch_kwargs={"channels": (16, 32), "hidden": 64}, data=test.info.to_dict())
    server = start_server(str(run_dir), args.port)
    try:
        url = f"http://127.0.0.1:{args.port}/v2/models/cnn"
        budget = int(args.budgets.split(",")[0])
        remote_target = resolve(url).target
        runs = {
            "remote": lambda r: feint_hopskipjump(remote_target, x, y, budget, seed=r),
            "local": lambda r: feint_hopskipjump(model, x, y, budget, seed=r),
        }
        (remote, local), ratio, t_remote, t_local = interleaved(runs, args.repeats)
        verdicts.append(ratio <= 2)
        print(f"\nHopSkipJump at {budget} queries/image: in-process {t_local:.1f} s, through feint serve {t_remote:.1f} s, "
              f"ratio {ratio:.2f} (same result: {local == remote})")  # fmt: skip
        print(f"\n{'clients':>7}  {'requests/s':>10}  {'p50 ms':>7}  {'p99 ms':>7}")
        for clients in (1, 16, 200):
            rate, p50, p99 = asyncio.run(load_test(url + "/infer", x, clients, args.requests))
            print(f"{clients:>7}  {rate:>10.1f}  {p50:>7.1f}  {p99:>7.1f}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"\ntargets met: {all(verdicts)} (L2 no worse image by image, time <= 0.5x ART, HTTP <= 2x in-process)")


if __name__ == "__main__":
    main()
