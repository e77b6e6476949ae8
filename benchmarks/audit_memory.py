"""Benchmark: the audit's peak memory does not grow with inputs x eps x input size.

Audits 1,000 and then all 10,000 Fashion-MNIST test images at 8 eps, each in a fresh process
(one torch thread), and prints each run's peak resident memory (``ru_maxrss``), the part the audit
itself added over the loaded model and data, and the size of the worst-case points file it
streamed to disk. Target: the 10,000-input peak at most 1.5x the 1,000-input peak.

What stays in memory is per sample and small (which attack broke each input at each eps, the
logits and perturbation sizes of its worst-case point: (8, N) + (8, N, 10) + (8, N, 3) numbers);
the worst-case points themselves ((8 + 1) x N x 784 floats, 282 MB at N = 10,000) go to
``audit_state/points-*.bin`` as each batch finishes, and attacks run a batch of ``--batch-size``
inputs at a time. The model is a small LeNet trained here for one epoch (cached under
``benchmarks/.cache``); its robustness does not change what the audit keeps per input.
``--arch softmax`` (a linear model: little memory per batch, quick) shows what grows with the
number of inputs most plainly.

    python benchmarks/audit_memory.py [--preset standard] [--sizes 1000,10000] [--batch-size 1000] [--arch softmax]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

Peak RSS of an audit of 1,000 and of all 10,000 Fashion-MNIST
test images at 8 eps, each in a fresh one-thread process (target: the second at most 1.5x the
first). Measured once each, on 2 shared cores (`python benchmarks/audit_memory.py ...`):
LeNet `--preset quick` 600 MB / 882 MB, ratio 1.47 (met, narrowly; the audit adds 327 / 609 MB
over the loaded model and data, about 31 KB more per extra input; points on disk 5 / 49 MB);
`--arch softmax --preset standard` 333 / 408 MB, ratio 1.22; `--arch softmax --preset quick`
334 / 382 MB, ratio 1.14. Before freed heap was handed back after each batch, LeNet quick gave
754 / 1242 MB (1.65). The LeNet standard preset at 10,000 inputs was not measured (too long for
the shared machine).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

EPS = (0.0, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2)
CACHE = Path(__file__).resolve().parent / ".cache"
ARCHS = {"lenet": {"channels": (16, 32), "hidden": 64}, "softmax": {}}


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def fresh_runs(script: str, sizes: list[int], *args: str) -> list[dict[str, Any]]:
    """``script --child N *args`` for every N of ``sizes``, each in a fresh process (so that its
    ``ru_maxrss`` is its own); the JSON of each run's last line."""
    rows = []
    for n in sizes:
        cmd = [sys.executable, script, "--child", str(n), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def model_folder(arch: str) -> Path:
    """A model trained for one epoch on 10,000 Fashion-MNIST training images (cached)."""
    import feint
    from feint.errors import FeintError
    from feint.models import load_config

    folder = CACHE / f"memory-{arch}"
    try:
        load_config(folder)
        return folder
    except FeintError:
        pass
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    train = feint.load("fashion-mnist", "train").sample(10_000, seed=0)
    feint.train(arch, train, arch_kwargs=ARCHS[arch], epochs=1, lr=2e-3, out=folder, overwrite=True, progress=False)
    return folder


def child(n: int, preset: str, batch_size: int, arch: str) -> None:
    """One audit of the first ``n`` test images; prints one JSON line."""
    import feint
    from feint.capabilities.audit.result import worst_case_accuracy
    from feint.models import load_model

    torch.set_num_threads(1)
    model = load_model(model_folder(arch))
    test = feint.load("fashion-mnist", "test").head(n)
    before = peak_mb()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        report = feint.audit(
            model,
            test.x,
            test.y,
            eps=EPS,
            preset=preset,
            out=out,
            data_info=test.info,
            batch_size=batch_size,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        points = sum(p.stat().st_blocks * 512 for p in Path(out, "audit_state").glob("points-*.bin"))
    print(
        json.dumps(
            {
                "n": n,
                "peak_mb": peak_mb(),
                "loaded_mb": before,
                "points_mb": points / 2**20,
                "seconds": seconds,
                "worst_case": worst_case_accuracy(report)[-1],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--arch", default="lenet", choices=sorted(ARCHS), help="softmax: a quick check, little memory per batch"
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.preset, args.batch_size, args.arch)
        return
    model_folder(args.arch)  # train once, outside the measured processes
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = fresh_runs(
        __file__, sizes, "--preset", args.preset, "--batch-size", str(args.batch_size), "--arch", args.arch
    )
    print(f"Fashion-MNIST, {args.arch}, {len(EPS)} eps, preset {args.preset}, batch size {args.batch_size}, 1 thread")
    print(f"{'inputs':>7}  {'peak RSS':>9}  {'audit adds':>10}  {'points on disk':>14}  {'time':>7}")
    for r in rows:
        added = r["peak_mb"] - r["loaded_mb"]
        print(
            f"{r['n']:>7}  {r['peak_mb']:>6.0f} MB  {added:>7.0f} MB  {r['points_mb']:>11.0f} MB  {r['seconds']:>5.0f} s"
        )
    if len(rows) >= 2:
        ratio = rows[-1]["peak_mb"] / rows[0]["peak_mb"]
        print(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} inputs: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
