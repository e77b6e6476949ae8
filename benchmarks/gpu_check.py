"""The GPU check: one command for the day a GPU is lent (under 5 minutes on one GPU).

1. Runs the tests marked ``gpu`` (``pytest -m gpu``: an attack, the audit, a training step, the
   server and the mutation pool) on the device (``FEINT_TEST_DEVICE``).
2. Runs four workloads on the CPU and on the device, on the same model and data: PGD (Linf 0.1,
   20 steps), the standard audit on 1,000 Fashion-MNIST test images (eps 0, 0.05, 0.1), HopSkipJump
   through a label oracle (64 inputs, 500 queries) and the mutation pool (fit 50 mutants, score the
   PGD points). The figures must agree within the stated tolerance: accuracies, success rates
   and mean label-change rates within 0.02 (kernels round differently, so a few borderline inputs
   may flip), HopSkipJump's median L2 distance within 10%.
3. Prints, per workload: device / CPU time, and feint / bare loop on each, where the bare loop is
   a plain ``model(x)`` (and ``backward``) loop over the same number of forward and backward rows
   as the workload counted (batches of 500 on that device); and the peak GPU memory.

The model is a LeNet trained for one epoch on 10,000 Fashion-MNIST training images (on the CPU,
cached in ``benchmarks/.cache``). ``--small`` (digits, a small MLP, tiny budgets)
is what CI runs on the CPU to prove the script works; ``--device cpu`` compares the CPU with itself.

    python benchmarks/gpu_check.py [--device cuda] [--small] [--skip-tests]

Exit status 1 when a test fails or a figure is out of tolerance.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
ACCURACY_TOLERANCE = 0.02
DISTANCE_TOLERANCE = 0.10


@dataclass
class Run:
    """One workload on one device: its figures, seconds, counted (forward, backward) rows, peak GPU bytes."""

    figures: dict[str, float]
    seconds: float
    rows: tuple[int, int]
    batch: int
    peak_bytes: int = 0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, batch: int, work: Callable[[], tuple[dict[str, float], tuple[int, int]]]) -> Run:
    """``work()`` -> (figures, counted rows), timed; ``batch``: the batch size its rows went through."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    figures, rows = work()
    sync(device)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return Run(figures, seconds, rows, batch, peak)


def bare_seconds(model: nn.Module, x: torch.Tensor, rows: tuple[int, int], batch: int) -> float:
    """Seconds a plain loop takes for ``rows`` (forward rows, backward rows) on ``model`` at ``x``'s device,
    in batches of ``batch`` (the workload's own)."""
    device = x.device
    xb = x[:batch].repeat(-(-batch // x.shape[0]), 1, 1, 1)[:batch]

    def per_row(backward: bool) -> float:
        times = []
        for _ in range(3):
            sync(device)
            t0 = time.perf_counter()
            if backward:
                xg = xb.clone().requires_grad_(True)
                model(xg).sum().backward()
            else:
                with torch.no_grad():
                    model(xb)
            sync(device)
            times.append((time.perf_counter() - t0) / xb.shape[0])
        return statistics.median(times)

    forward = per_row(False)
    both = per_row(True)
    return rows[0] * forward + rows[1] * max(both - forward, 0.0)


def lenet(small: bool, cache: Path) -> tuple[nn.Module, Any]:
    """The model (trained once, cached in ``cache``) and the test data."""
    import feint
    from feint.errors import FeintError
    from feint.models import load_config, load_model

    name, arch = ("digits", "mlp") if small else ("fashion-mnist", "lenet")
    folder = cache / f"gpu-check-{name}"
    try:
        load_config(folder)
    except FeintError:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / ".gitignore").write_text("*\n")
        train = feint.load(name, "train").sample(10_000, seed=0)
        feint.train(arch, train, epochs=1 if not small else 3, lr=2e-3, out=folder, overwrite=True, progress=False)
    return load_model(folder, device="cpu"), feint.load(name, "test")


def workloads(small: bool) -> dict[str, Callable[[nn.Module, Any, torch.device], Run]]:
    import feint
    from feint.attacks import hopskipjump, pgd
    from feint.capabilities.audit.result import worst_case_accuracy
    from feint.detectors.mutation import MutationDetector
    from feint.oracles import as_oracle

    n_audit, n_hsj, queries, mutants = (64, 8, 100, 8) if small else (1000, 64, 500, 50)

    def run_pgd(model: nn.Module, data: Any, device: torch.device) -> Run:
        x, y = data.x[:n_audit].to(device), data.y[:n_audit].to(device)

        def work() -> tuple[dict[str, float], tuple[int, int]]:
            res = pgd(model, x, y, eps=0.1, steps=20, step_size=0.01, seed=0)
            return {"robust accuracy": res.accuracy}, res.passes

        return timed(device, x.shape[0], work)

    def run_audit(model: nn.Module, data: Any, device: torch.device) -> Run:
        part = data.head(n_audit)

        def work() -> tuple[dict[str, float], tuple[int, int]]:
            report = feint.audit(
                model, part, eps=[0.0, 0.05, 0.1], preset="quick" if small else "standard", device=device
            )
            total = report["passes"]["total"]
            figures = {
                f"worst case eps {e:g}": a for e, a in zip(report["eps"], worst_case_accuracy(report), strict=True)
            }
            return figures, (int(total["forward"]), int(total["backward"]))

        return timed(device, min(n_audit, 1000), work)

    def run_hsj(model: nn.Module, data: Any, device: torch.device) -> Run:
        x, y = data.x[:n_hsj].to(device), data.y[:n_hsj].to(device)

        def work() -> tuple[dict[str, float], tuple[int, int]]:
            oracle = as_oracle(model, access="labels")
            res = hopskipjump(oracle, x, y, max_queries=queries, seed=0)
            dist = res.distance[res.success]
            median = float(dist.median()) if dist.numel() else float("nan")
            return {"success rate": res.success_rate, "median L2": median}, (res.queries, 0)

        return timed(device, 100, work)  # its gradient estimates: batches of init_evals = 100

    def run_mutation(model: nn.Module, data: Any, device: torch.device) -> Run:
        x, y = data.x[:n_audit].to(device), data.y[:n_audit].to(device)
        adv = pgd(model, x, y, eps=0.1, steps=20, step_size=0.01, seed=0).x_adv
        detector = MutationDetector(model, n_mutants=mutants, filter_inputs=min(500, n_audit), pairs=256, seed=0)
        detector.fit(x, y)  # generating the pool is set-up; evaluating it on inputs is the work timed

        def work() -> tuple[dict[str, float], tuple[int, int]]:
            changes = detector.label_changes(adv)
            return {"mean LCR": float(changes.float().mean())}, (int(changes.numel()), 0)

        return timed(device, n_audit, work)

    return {"PGD": run_pgd, "audit": run_audit, "HopSkipJump": run_hsj, "mutation pool": run_mutation}


def agree(name: str, cpu: float, dev: float) -> bool:
    if cpu != cpu and dev != dev:  # both NaN
        return True
    if "L2" in name:
        return abs(dev - cpu) <= DISTANCE_TOLERANCE * max(abs(cpu), 1e-12)
    return abs(dev - cpu) <= ACCURACY_TOLERANCE


def run_tests(device: torch.device, small: bool) -> bool:
    env = {**os.environ, "FEINT_TEST_DEVICE": str(device), "PYTHONPATH": str(ROOT)}
    where = [str(ROOT / "tests" / "test_gpu.py")] if small else [str(ROOT / "tests")]
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *where]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"tests marked gpu on {device}: {last}")
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:])
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="digits and tiny budgets: proves the script works")
    parser.add_argument("--skip-tests", action="store_true", help="only the figures and timings")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the trained model is kept")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda asked for but no CUDA GPU is visible; use --device cpu")
    t0 = time.perf_counter()
    ok = True if args.skip_tests else run_tests(device, args.small)
    model, data = lenet(args.small, args.cache)
    cpu = torch.device("cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}); CPU threads: {torch.get_num_threads()}")
    print(f"{'workload':<14} {'figure':<22} {'CPU':>9} {'device':>9} {'agree':>6}  {'dev/CPU time':>12}  "
          f"{'feint/bare CPU':>14}  {'feint/bare dev':>14}  {'peak GPU':>9}")  # fmt: skip
    for label, work in workloads(args.small).items():
        on_cpu = work(copy.deepcopy(model).eval(), data, cpu)
        here = copy.deepcopy(model).to(device).eval()
        on_dev = work(here, data, device)
        bare_cpu = bare_seconds(copy.deepcopy(model).eval(), data.x[:500], on_cpu.rows, on_cpu.batch)
        bare_dev = bare_seconds(here, data.x[:500].to(device), on_dev.rows, on_dev.batch)
        timing = (
            f"{on_dev.seconds / on_cpu.seconds:>12.3f}  {on_cpu.seconds / max(bare_cpu, 1e-9):>14.2f}  "
            f"{on_dev.seconds / max(bare_dev, 1e-9):>14.2f}  {on_dev.peak_bytes / 2**20:>6.0f} MB"
        )
        for i, (figure, value) in enumerate(on_cpu.figures.items()):
            same = agree(figure, value, on_dev.figures[figure])
            ok = ok and same
            shown = timing if i == 0 else ""
            print(f"{label if i == 0 else '':<14} {figure:<22} {value:>9.4f} {on_dev.figures[figure]:>9.4f} "
                  f"{'yes' if same else 'NO':>6}  {shown}")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tolerance: accuracies and rates within {ACCURACY_TOLERANCE}, median L2 within {DISTANCE_TOLERANCE:.0%}")
    print(f"peak RSS {rss:.0f} MB; total {time.perf_counter() - t0:.0f} s; {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
