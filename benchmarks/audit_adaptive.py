"""Benchmark: the adaptive audit against AutoAttack and hand-set BPDA/EOT attacks, counted in passes.

The Fashion-MNIST fast-AT CNN (trained here with feint's fast-AT recipe by the command line's
defaults, cached under ``--cache``) behind

- ``quantized``: input quantization, every pixel rounded to a multiple of ``1/levels``;
- ``jpeg``: a JPEG round trip through Pillow (quality 75), a submodule that leaves autograd;
- ``noisy``: test-time Gaussian noise of standard deviation ``--sigma``;
- ``plain``: the fast-AT CNN as it is (nothing fires: the audit's cost as before);

and, for the cost ratio on models where nothing fires, ``undefended`` (the same convnet trained
plainly) and ``distilled`` (defensive distillation), each its own CNN.

On each, in the same run and on the same inputs: feint's ``standard`` audit with no user
configuration; torchattacks' AutoAttack (Croce & Hein 2020; ``standard``, and ``rand`` on the
noisy model: APGD-CE and APGD-DLR with 20 EOT draws); and a hand-set attack of Athalye, Carlini &
Wagner 2018: BPDA (the front-end's backward replaced by the identity) with PGD-100 on the
cross-entropy and on the margin, or EOT-PGD-100 with 20 draws per step on the noisy model, the
better of the two per input (on the noisy model chosen by the margin of the mean logits over 16
selection draws whose seeds differ from the redraws': choosing on the redraws that then measure it
would pick each input's luckiest draws, 62.6% instead of 63.0% at eps 0.05 on 100 inputs).
Every row through the CNN is counted outside feint (:class:`RowCount`: a forward pre-hook and an
autograd node on the output), forward and backward. On the noisy model the peers' final points are
evaluated over 16 seeded redraws, feint's over its own 16 (its headline: the mean over them).

Targets (issue 20): feint's worst case at every eps <= min(AutoAttack, hand-set) + 0.5 point; at
most half of AutoAttack's forward + backward rows per input on the deterministic models; on the
noisy one no more rows than the hand-set EOT attack.

    OMP_NUM_THREADS=1 python benchmarks/audit_adaptive.py --n 500 [--offset 0] [--eps 0.05,0.1] [--models M,...] [--cache DIR]

Measured 2026-12-06 (one thread, 2 shared CPU cores; the CNNs retrained that day), worst-case robust
accuracy in % at eps 0.05 / 0.1, feint vs AutoAttack vs hand-set, and feint's forward + backward rows
per input over AutoAttack's:

- quantized (``--n 100``): 78 / 70 vs 79 / 71 vs 79 / 74; rows 0.218 (met);
- JPEG (``--n 500``): **73.0 / 24.4** vs 73.2 / 26.6 (AutoAttack's gradient attacks cannot run: its
  Square-5000 alone) vs 82.4 / 72.2; rows **0.499** (met, both); held out (``--n 500 --offset 500``,
  inputs 500-999, after the second seed's stall factor was chosen on 0-499): 69.4 / 23.8 vs 71.4 / 25.8
  vs 80.0 / 68.0, rows 0.494 (met). Without the second seed (one stalled Square-5000 only): 74.2 / 24.4,
  rows 0.444 on 0-499 (eps 0.05 missed by +1.0 point: feint's seeds 1 and 2 gave 73.0 and 73.8, within
  Square-5000's own spread from seed to seed); the choice of its factor is in
  ``feint/capabilities/audit/presets.py`` (``_SECOND_STALL``);
- noisy (``--n 500``, mean of 16 redraws): 65.5 / 23.8 vs 74.4 / 31.5 (``rand``) vs 65.6 / 23.7; rows
  0.969x the hand-set's (met: -0.1 / +0.0 point);
- plain fast-AT (``--n 100``): 76 / 71 vs 76 / 71; rows 0.058;
- undefended (``--n 500 --eps 0.01,0.02``): 73.8 / 47.4 vs 73.8 / 48.8; rows 0.254;
  distilled (the same): 62.8 / 25.4 vs 63.6 / 28.2; rows 0.230
  (at eps 0.05 / 0.1 both are broken whole by every attack: 0.703 and 1.055, FMN's fixed 40 steps).

Before the stall rule (this CNN): JPEG 71 / 32, rows 1.075 (``--n 100``) and 73.6 / 26.0, rows 1.074
(``--n 500``): Square-1000, then Square-4000 afresh, on every input still robust. Matching what Square-5000
finds takes a search of its length (of the inputs it breaks, 4 and 5 in 100 fall after its 2,000th query),
but only on the inputs whose margin is still falling; the audit's search now stops each input's search
where its margin loss has not fallen to 0.8^k of its start by the k-th of 250, 500, ... 4,000 queries
(``feint.attacks.stall``). Quantized then: 79 / 71, rows 0.237; plain fast-AT unchanged.

Before that (the same script, an earlier CNN, ``--n 100``): JPEG 75 / 34 vs 73 / 32, rows 1.30 (the gradient
ladder through BPDA ran before the search); noisy 63.9 / 31.3 vs 62.6 / 28.7 (chosen on the redraws),
rows 1.17x (the ladder ran; the final push climbed the cross-entropy of the mean logits from the
attacks' boundary points, and inputs wrong in the one clean draw were never attacked).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

import feint
from feint.capabilities.audit.result import worst_case_accuracy
from feint.data import load
from feint.models import load_model

EPS_TRAIN = 0.1
REDRAWS = 16


class RowCount(nn.Module):
    """Counts the rows through ``net``, outside feint: forward rows with a pre-hook, backward rows with
    an autograd node on the output."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.forward_rows = 0
        self.backward_rows = 0

    def reset(self) -> tuple[int, int]:
        rows = (self.forward_rows, self.backward_rows)
        self.forward_rows = self.backward_rows = 0
        return rows

    def forward(self, x: Tensor) -> Tensor:
        self.forward_rows += x.shape[0]
        out: Tensor = self.net(x)
        return _Backward.apply(out, self) if out.requires_grad else out


class _Backward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, out: Tensor, counter: RowCount) -> Tensor:
        ctx.counter = counter
        return out.view_as(out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        ctx.counter.backward_rows += grad.shape[0]
        return grad, None


class Quantize(nn.Module):
    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, x: Tensor) -> Tensor:
        return torch.round(x * self.levels) / self.levels


class JpegRoundTrip(nn.Module):
    """Each single-channel image through Pillow's JPEG encoder and decoder (outside autograd)."""

    def __init__(self, quality: int = 75) -> None:
        super().__init__()
        self.quality = quality

    def forward(self, x: Tensor) -> Tensor:
        out = []
        for img in x.detach().cpu().numpy():
            buf = io.BytesIO()
            Image.fromarray((img[0] * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=self.quality)
            out.append(np.asarray(Image.open(buf), dtype=np.float32) / 255)
        return torch.tensor(np.stack(out))[:, None].to(x.device, x.dtype)


class GaussianNoise(nn.Module):
    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sigma * torch.randn_like(x)


class StraightThrough(nn.Module):
    """The hand-set BPDA: ``front``'s forward, the identity's backward."""

    def __init__(self, front: nn.Module) -> None:
        super().__init__()
        self.front = front

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            out = self.front(x)
        return x + (out - x).detach()


# The CNNs under test, trained by feint's command line (convnet, its defaults otherwise): the fast-AT
# one behind every front-end, and two more without one for the cost ratio on models where nothing fires.
TRAINING = {
    "fast-at": ["--recipe", "fast-at", "--adv-eps", str(EPS_TRAIN)],
    "undefended": ["--arch", "convnet"],
    "distilled": ["--recipe", "distill"],
}
ALONE = ("undefended", "distilled")  # models audited as they are, each its own CNN


def trained(cache: Path, name: str) -> nn.Module:
    folder = cache / name
    if not (folder / "config.json").is_file():
        command = [sys.executable, "-m", "feint", "train", *TRAINING[name], "--data", "fashion-mnist"]
        command += ["--out", str(folder), "--overwrite", "--quiet"]
        print("$ feint " + " ".join(command[3:]), flush=True)
        subprocess.run(command, check=True)
    return load_model(folder).eval()


def margin(logits: Tensor, y: Tensor) -> Tensor:
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], -torch.inf).amax(1)
    return other - true


def hand_pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, loss: str, steps: int, draws: int) -> Tensor:
    """PGD (Madry et al. 2018) from a random start, step 2.5 eps / steps, the gradient averaged over ``draws``."""
    gen = torch.Generator().manual_seed(0)
    x_adv = (x + eps * (2 * torch.rand(x.shape, generator=gen) - 1)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        batch = x_adv.repeat(draws, 1, 1, 1)
        logits = model(batch)
        target = y.repeat(draws)
        value = F.cross_entropy(logits, target, reduction="sum") if loss == "ce" else margin(logits, target).sum()
        (grad,) = torch.autograd.grad(value, x_adv)
        x_adv = (x_adv.detach() + 2.5 * eps / steps * grad.sign()).clamp(x - eps, x + eps).clamp(0, 1)
    return x_adv.detach()


def correct(model: nn.Module, points: Tensor, y: Tensor, random: bool) -> Tensor:
    """(N,) per input: 1.0 where classified as ``y``; for a random model, the share of the seeded redraws."""
    with torch.no_grad():
        if not random:
            return (model(points).argmax(1) == y).float()
        hits = torch.zeros(y.shape[0])
        for seed in range(REDRAWS):
            torch.manual_seed(10_000 + seed)
            hits += (model(points).argmax(1) == y).float()
        return hits / REDRAWS


def better_of(model: nn.Module, runs: list[Tensor], y: Tensor, random: bool) -> Tensor:
    """Per input, the point of ``runs`` with the smallest margin: on a random model, of the mean logits over
    16 selection draws whose seeds differ from the redraws' (choosing on the redraws that then measure it
    would pick each input's luckiest draws)."""
    with torch.no_grad():
        scores = []
        for points in runs:
            if random:
                logits = torch.zeros(points.shape[0], 10)
                for seed in range(REDRAWS):
                    torch.manual_seed(20_000 + seed)
                    logits += model(points)
            else:
                logits = model(points)
            scores.append(-margin(logits, y))
    pick = torch.stack(scores).argmin(0)
    return torch.stack(runs)[pick, torch.arange(y.shape[0])]


def build(name: str, counted: RowCount, levels: int, sigma: float) -> tuple[nn.Module, nn.Module | None, bool]:
    """The model under test, its hand-set BPDA twin (None: no front-end to bypass), whether it is random."""
    if name == "plain" or name in ALONE:
        return counted, None, False
    if name == "noisy":
        model = nn.Sequential(GaussianNoise(sigma), counted)
        return model, model, True
    front = Quantize(levels) if name == "quantized" else JpegRoundTrip()
    return nn.Sequential(front, counted), nn.Sequential(StraightThrough(front), counted), False


def run_model(name: str, net: nn.Module, x: Tensor, y: Tensor, info: Any, args: argparse.Namespace) -> dict[str, Any]:
    import torchattacks

    counted = RowCount(net)
    model, twin, random = build(name, counted, args.levels, args.sigma)
    out: dict[str, Any] = {"eps": args.eps}
    t0 = time.perf_counter()
    report = feint.audit(model, x, y, eps=args.eps, progress=False, data_info=info, seed=0)
    out["feint"] = {
        "accuracy": worst_case_accuracy(report),
        "rows": counted.reset(),
        "seconds": time.perf_counter() - t0,
    }
    r = report.data
    out["feint"]["fired"] = [c["name"] for c in r["adaptive"]["checks"]]
    out["feint"]["bypassed"] = [b["module"] for b in (r["adaptive"]["gradient"] or {}).get("bypassed", [])]
    out["feint"]["access"] = r["access"]["level"]
    out["feint"]["randomized"] = (r["adaptive"]["randomized"] or {}).get("reason")
    aa_acc, aa_rows, hand_acc, hand_rows = [], [0, 0], [], [0, 0]
    t0 = time.perf_counter()
    for eps in args.eps:
        torch.manual_seed(0)
        attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="rand" if random else "standard", seed=0)
        try:
            adv = attack(x, y)
        except RuntimeError:  # its gradient attacks cannot run where the model leaves autograd: its Square can
            out["autoattack_note"] = (
                "AutoAttack's gradient attacks cannot run (no gradient): its Square (5,000 queries) ran"
            )
            counted.reset()
            adv = torchattacks.Square(model, norm="Linf", eps=eps, n_queries=5000, seed=0)(x, y)
        f, b = counted.reset()
        aa_rows = [aa_rows[0] + f, aa_rows[1] + b]
        aa_acc.append(float(correct(model, adv, y, random).mean()))
        counted.reset()
    out["autoattack"] = {"accuracy": aa_acc, "rows": tuple(aa_rows), "seconds": time.perf_counter() - t0}
    if twin is None:
        return out
    t0 = time.perf_counter()
    for eps in args.eps:
        torch.manual_seed(0)
        runs = []
        for loss in ("ce", "margin"):
            runs.append(hand_pgd(twin, x, y, eps, loss=loss, steps=100, draws=20 if random else 1))
            f, b = counted.reset()
            hand_rows = [hand_rows[0] + f, hand_rows[1] + b]
        hand_acc.append(float(correct(model, better_of(model, runs, y, random), y, random).mean()))
        counted.reset()
    out["hand"] = {"accuracy": hand_acc, "rows": tuple(hand_rows), "seconds": time.perf_counter() - t0}
    return out


def per_input(rows: tuple[int, int], n: int) -> float:
    return (rows[0] + rows[1]) / n


def show(name: str, res: dict[str, Any], n: int) -> None:
    f, aa, hand = res["feint"], res["autoattack"], res.get("hand")
    print(
        f"\n== {name}: feint fired {f['fired'] or 'nothing'}; bypassed {f['bypassed'] or 'nothing'}; access {f['access']}"
    )
    if f["randomized"]:
        print(f"  feint chose {f['randomized']}")
    if "autoattack_note" in res:
        print(f"  {res['autoattack_note']}")
    print(f"{'eps':>6} {'feint':>8} {'AutoAttack':>11} {'hand-set':>9}  feint - min(peers)")
    for i, eps in enumerate(res["eps"]):
        peers = [aa["accuracy"][i]] + ([hand["accuracy"][i]] if hand else [])
        gap = f["accuracy"][i] - min(peers)
        hand_cell = f"{hand['accuracy'][i]:9.4f}" if hand else f"{'-':>9}"
        verdict = "ok" if gap <= 0.005 else "MISSED"
        print(f"{eps:6g} {f['accuracy'][i]:8.4f} {aa['accuracy'][i]:11.4f} {hand_cell}  {100 * gap:+.1f} pt {verdict}")
    rows = {"feint": f["rows"], "AutoAttack": aa["rows"], **({"hand-set": hand["rows"]} if hand else {})}
    for who, (fw, bw) in rows.items():
        print(f"  {who:>10}: {fw / n:9.1f} forward + {bw / n:9.1f} backward rows per input")
    print(f"  rows ratio feint / AutoAttack: {per_input(f['rows'], n) / per_input(aa['rows'], n):.3f}", end="")
    if hand:
        print(f"; feint / hand-set: {per_input(f['rows'], n) / per_input(hand['rows'], n):.3f}", end="")
    print(
        f"  (seconds: feint {f['seconds']:.0f}, AutoAttack {aa['seconds']:.0f}"
        + (f", hand-set {hand['seconds']:.0f})" if hand else ")")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent / ".cache" / "adaptive")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--offset", type=int, default=0, help="the first test input (held-out checks: e.g. 500)")
    parser.add_argument("--eps", type=lambda s: [float(v) for v in s.split(",")], default=[0.05, 0.1])
    parser.add_argument("--models", default="quantized,jpeg,noisy,plain,undefended,distilled")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load("fashion-mnist", "test")
    x, y = test.x[args.offset : args.offset + args.n], test.y[args.offset : args.offset + args.n]
    print(
        f"fast-AT CNN on {args.n} Fashion-MNIST test inputs from #{args.offset}, Linf eps {args.eps}; "
        "rows counted outside feint"
    )
    for name in args.models.split(","):
        net = trained(args.cache, name if name in ALONE else "fast-at")
        show(name, run_model(name, net, x, y, test.info, args), args.n)


if __name__ == "__main__":
    main()
