"""Benchmark: an audit streaming an image folder keeps its memory flat; the folder pipeline keeps pace.

1. Peak RSS of ``feint.audit`` on 500 and on 5,000 generated 3 x 224 x 224 JPEG images in a class
   folder (``feint.open_source``: decoded in DataLoader workers, copied once to a row file, read by
   index), through a ResNet-18 given as ``module:factory`` + safetensors weights (random weights,
   :mod:`benchmarks.resnet`), each audit in a fresh one-thread process (``ru_maxrss`` of the audit's
   process; its decoding workers are reported apart). The audit is kept cheap (one eps, FGSM and the
   noise baseline, no adaptive probe): the point is memory. Target: 5,000-input peak <= 1.2x the 500.
2. Throughput of the folder pipeline (``open_source`` + ``Source.batches``: listing, the picked
   files' headers, decoding in workers, checks, uint8 -> float in the main process) against a bare
   torchvision-style DataLoader loop over the same files (listing, a Dataset that opens each file
   with Pillow, converts to RGB and to a float tensor, default collate), same workers and batch
   size; interleaved repeats in alternating order, the median of per-repeat ratios. Target: >= 0.9x.

The images are generated once into ``benchmarks/.cache/streaming-images`` (smooth random colour
fields, 10 classes). Run it under ``flock /tmp/feint-heavy.lock``:

    python benchmarks/streaming.py [--sizes 500,5000] [--part memory|throughput|all] [--repeats 5]

Measured (docs/benchmarks.md has the table): see the README of issue 23's note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from audit_memory import fresh_runs, peak_mb

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
IMAGES = CACHE / "streaming-images"
WEIGHTS = CACHE / "resnet18-random.safetensors"
SIZE = 224
CLASSES = 10


def make_images(n: int) -> Path:
    """``n`` JPEGs of 224 x 224 (smooth random colour fields: upsampled 7 x 7 noise) in 10 class folders."""
    from PIL import Image

    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    have = sorted(IMAGES.glob("*/*.jpg"))
    if len(have) >= n:
        return IMAGES
    rng = np.random.default_rng(0)
    for i in range(len(have), n):
        folder = IMAGES / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        small = Image.fromarray(rng.integers(0, 256, (7, 7, 3), dtype=np.uint8))
        small.resize((SIZE, SIZE), Image.Resampling.BICUBIC).save(folder / f"{i:05d}.jpg", quality=90)
    return IMAGES


def make_weights() -> Path:
    from safetensors.torch import save_file

    sys.path.insert(0, str(HERE))
    from resnet import resnet18

    if not WEIGHTS.exists():
        save_file({k: v.contiguous() for k, v in resnet18().state_dict().items()}, str(WEIGHTS))
    return WEIGHTS


def child(n: int, batch_size: int) -> None:
    """One audit of the first ``n`` files (a seeded subset picks them); prints one JSON line."""
    import feint
    from feint.capabilities.audit.presets import AttackPlan, Preset
    from feint.data import open_source
    from feint.models import resolve

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    model = resolve("resnet:resnet18", weights=str(WEIGHTS)).target
    source = open_source(IMAGES, n=n, seed=0)
    cheap = Preset("fgsm-only", (AttackPlan("fgsm", "white-box"),))
    before = peak_mb()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        report = feint.audit(model, source, eps=[2 / 255], preset=cheap, adaptive=False, out=out, batch_size=batch_size)
        seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "n": report["data"]["n"],
                "peak_mb": peak_mb(),
                "loaded_mb": before,
                "seconds": seconds,
                "clean_accuracy": report["clean_accuracy"],
            }
        )
    )


def memory(sizes: list[int], batch_size: int) -> None:
    rows = fresh_runs(__file__, sizes, "--batch-size", str(batch_size))
    print(f"audit of a streamed folder of 3x{SIZE}x{SIZE} JPEGs, ResNet-18 (random weights), batch {batch_size}")
    for r in rows:  # the decoding workers are processes of their own, each holding a batch or two
        print(
            f"  {r['n']} inputs: peak RSS {r['peak_mb']:.0f} MB (model and code {r['loaded_mb']:.0f} MB), "
            f"{r['seconds']:.0f} s, clean accuracy {r['clean_accuracy']:.3f}"
        )
    ratio = rows[-1]["peak_mb"] / rows[0]["peak_mb"]
    print(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} inputs: {ratio:.2f} (target <= 1.2)")


class BareImageFolder(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """What a torchvision ImageFolder + ToTensor loop does: open, convert to RGB, to float CHW in [0, 1]."""

    def __init__(self, root: Path) -> None:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        self.items = [(p, k) for k, c in enumerate(classes) for p in sorted((root / c).iterdir())]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.items[i]
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float().div_(255), label


def throughput(n: int, repeats: int, batch_size: int) -> None:
    from feint.data import open_source
    from feint.data.stream import default_workers

    workers = default_workers()
    picked = {str(p) for p in open_source(IMAGES, n=n, seed=0).files}  # type: ignore[attr-defined]

    def run_feint() -> float:  # listing, the picked files' headers, decoding, checks, to float
        t0 = time.perf_counter()
        source = open_source(IMAGES, n=n, seed=0)
        count = sum(int(x.shape[0]) for x, _ in source.batches(batch_size, workers=workers))
        return count / (time.perf_counter() - t0)

    def run_bare() -> float:  # listing, decoding, to float
        t0 = time.perf_counter()
        bare = BareImageFolder(IMAGES)
        bare.items = [item for item in bare.items if str(item[0]) in picked]
        loader = torch.utils.data.DataLoader(bare, batch_size=batch_size, num_workers=workers)
        count = sum(int(x.shape[0]) for x, _ in loader)
        return count / (time.perf_counter() - t0)

    ratios, speeds = [], []
    for r in range(repeats):
        order = (run_feint, run_bare) if r % 2 == 0 else (run_bare, run_feint)
        got = {f.__name__: f() for f in order}
        ratios.append(got["run_feint"] / got["run_bare"])
        speeds.append(got)
    print(f"folder pipeline vs bare DataLoader loop: {n} files, batch {batch_size}, {workers} worker(s)")
    for s in speeds:
        print(f"  feint {s['run_feint']:.0f} images/s, bare {s['run_bare']:.0f} images/s")
    print(f"throughput ratio feint / bare (median of {repeats}): {statistics.median(ratios):.2f} (target >= 0.9)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--part", default="all", choices=["memory", "throughput", "all"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--throughput-files", type=int, default=1000)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.batch_size)
        return
    torch.set_num_threads(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    make_images(max([*sizes, args.throughput_files]))
    make_weights()
    if args.part in ("throughput", "all"):
        throughput(args.throughput_files, args.repeats, 64)
    if args.part in ("memory", "all"):
        memory(sizes, args.batch_size)


if __name__ == "__main__":
    main()
