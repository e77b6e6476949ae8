"""Benchmark: randomized smoothing certification against ART, and the interval it closes from below.

On a small Fashion-MNIST LeNet trained with Gaussian noise (the ``gaussian-noise`` recipe) at each
sigma, on the same inputs with the same n0, n and alpha, the script prints, from this run:

1. Certified accuracy at L2 radii 0, 0.25, 0.5, 1.0 of feint's CERTIFY
   (:meth:`feint.defenses.smoothing.Smoothed.certify`) and of ART's
   ``PyTorchRandomizedSmoothing.certify`` (Cohen, Rosenfeld & Kolter 2019 both); the two draw
   different noise, so they may differ by sampling error: the tolerance printed is two standard
   errors of the difference of two proportions over the inputs.
2. Time per certified input at ``--speed-n`` draws, feint against ART at the same rows per pass and
   at ART's default (32), on a subset: one torch thread, glibc told to keep freed memory, interleaved repeats in
   alternating order, the median of per-repeat ratios with its quartiles (the helpers of
   ``benchmarks/attack_speed.py``). Both pass the same rows through the model: n0 + n per input.
   On the CNN the model's forward pass is nearly all of the time, so what counts is how feint runs
   it (channels_last, and a checked frozen copy for counts of 20,000 rows or more); the same timing
   on cheaper models (``--speed-archs``: an MLP, a linear softmax) shows what
   feint's batched sampling saves where the drawing and the per-batch overhead dominate.
3. The empirical upper bound: EOT-PGD (L2, Athalye et al. 2018: PGD on the logits averaged over
   draws of the noise) on the smoothed classifier at each radius, each final point judged by the
   majority vote over n draws (robust: right at the clean input and at the attack's point). It must
   be at least feint's certified accuracy at every radius, or one of the two is wrong.

    flock /tmp/feint-heavy.lock python benchmarks/certify.py [--sigmas 0.25,0.5] [--n-inputs 100] [--n 500]

Measured with the defaults (100 inputs, n0 100, n 500, alpha 0.001, 256 rows per pass, one thread;
timing at 10,000 draws on 4 inputs; docs/benchmarks.md has the table): certified accuracy at radii
0 / 0.25 / 0.5 / 1.0 equal to ART's (sigma 0.25: 0.78 / 0.72 / 0.58 / 0.00 both; sigma 0.5:
0.73 / 0.68 / 0.59 / 0.38, ART 0.36), below EOT-PGD's upper bound at every radius (0.79 / 0.76 /
0.70 / 0.45; 0.74 / 0.71 / 0.66 / 0.53); ART / feint time per input 4.10 and 3.66 on the CNN (ART at
its default 32 rows: 4.02, 3.57), 2.83 on an MLP and 4.00 on a linear model. Before feint ran the
counts through channels_last and its frozen copy (feint/oracles/frozen.py) the CNN's ratios were
1.09 and 1.10: the forward pass is nearly all the time there, and batching alone cannot gain much.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import numpy as np
import torch
from attack_speed import SMALL_LENET, keep_freed_memory, quartiles, timed_repeats
from torch import Tensor, nn

import feint
from feint.attacks.eot import ExpectationOverDraws
from feint.attacks.pgd import pgd
from feint.defenses.smoothing import Smoothed, smooth
from feint.measure.certified import certified_accuracy
from feint.models.registry import create_model
from feint.oracles.frozen import FREEZE_ROWS, frozen_copy

RADII = (0.0, 0.25, 0.5, 1.0)


def art_smoothing(model: nn.Module, sigma: float, n0: int, alpha: float) -> object:
    from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing

    return PyTorchRandomizedSmoothing(
        model, nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10, device_type="cpu",
        sample_size=n0, scale=sigma, alpha=alpha, clip_values=(0.0, 1.0),
    )  # fmt: skip


def art_certify(art: object, x: Tensor, n: int, batch_size: int) -> tuple[Tensor, Tensor]:
    """ART's answers as feint's: class (-1: abstain) and radius (NaN where it abstains)."""
    prediction, radius = art.certify(x.numpy(), n=n, batch_size=batch_size)  # type: ignore[attr-defined]
    pred = torch.from_numpy(prediction).long()
    return pred, torch.where(pred >= 0, torch.from_numpy(radius).double(), torch.tensor(math.nan, dtype=torch.float64))


def upper_bound(smoothed: Smoothed, x: Tensor, y: Tensor, *, draws: int, steps: int) -> list[float]:
    """Per radius of :data:`RADII`: inputs the majority vote gets right at x and at EOT-PGD's point."""
    gen = torch.Generator().manual_seed(1)
    clean = smoothed.counts(x, smoothed.n, generator=gen).argmax(1) == y
    out = []
    for radius in RADII:
        if radius == 0:
            out.append(float(clean.float().mean()))
            continue
        torch.manual_seed(0)
        eot = ExpectationOverDraws(smoothed, draws)
        attacked = pgd(eot, x, y, eps=radius, norm="2", steps=steps, seed=0, early_stop=False).x_adv
        robust = clean & (smoothed.counts(attacked, smoothed.n, generator=gen).argmax(1) == y)
        out.append(float(robust.float().mean()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", default="0.25,0.5")
    parser.add_argument("--train", type=int, default=6000, help="Fashion-MNIST training images")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n-inputs", type=int, default=100, help="test images certified")
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=500, help="draws certifying each input")
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch-size", type=int, default=256, help="rows per pass, both tools")
    parser.add_argument("--speed-inputs", type=int, default=4, help="inputs in each timed call")
    parser.add_argument("--speed-n", type=int, default=10_000, help="draws per input in the timed calls")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--eot-draws", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--speed-archs", default="mlp,softmax", help="cheaper models timed too (untrained)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steady = keep_freed_memory()
    train = feint.load("fashion-mnist", "train").sample(args.train, seed=0)
    test = feint.load("fashion-mnist", "test")
    x, y = test.x[: args.n_inputs], test.y[: args.n_inputs]
    print(f"Fashion-MNIST, {len(y)} test images, n0 = {args.n0}, n = {args.n}, alpha = {args.alpha:g}, ")
    print(f"{args.batch_size} rows per pass; one torch thread; glibc keeps freed memory: {'yes' if steady else 'no'}")
    for sigma in (float(s) for s in args.sigmas.split(",")):
        one_sigma(sigma, args, train, x, y)
    for arch in filter(None, args.speed_archs.split(",")):
        base = create_model(arch, input_shape=(1, 28, 28), num_classes=10).eval()
        print(f"\n{arch} (untrained; the work per row is the same), sigma 0.25:")
        speed(smooth(base, 0.25, n0=args.n0, n=args.n, alpha=args.alpha, batch_size=args.batch_size), base, x, args)


def one_sigma(sigma: float, args: argparse.Namespace, train: feint.data.Dataset, x: Tensor, y: Tensor) -> None:
    """Train at ``sigma``, then print the certified accuracies, the upper bound and the speed."""
    started = time.perf_counter()
    recipe = {"sigma": sigma}
    base = feint.train(
        "lenet", train, arch_kwargs=SMALL_LENET, recipe="gaussian-noise", recipe_options=recipe,
        epochs=args.epochs, lr=2e-3, seed=0, progress=False,
    ).model.eval()  # fmt: skip
    print(f"\nsigma {sigma:g}: LeNet trained with noise in {time.perf_counter() - started:.0f} s")
    smoothed = smooth(base, sigma, n0=args.n0, n=args.n, alpha=args.alpha, batch_size=args.batch_size)
    art = art_smoothing(base, sigma, args.n0, args.alpha)
    ours = smoothed.certify(x, generator=torch.Generator().manual_seed(0))
    np.random.seed(0)  # ART draws its noise from numpy's global RNG
    theirs = art_certify(art, x, args.n, args.batch_size)
    a = certified_accuracy(ours.prediction, ours.radius, y, RADII)
    b = certified_accuracy(*theirs, y, RADII)
    upper = upper_bound(smoothed, x, y, draws=args.eot_draws, steps=args.steps)
    print(f"{'L2 radius':>10} {'feint':>7} {'ART':>7} {'|diff|':>7} {'2 SE':>7} {'EOT-PGD upper':>14}")
    for r, p, q, u in zip(RADII, a, b, upper, strict=True):
        se = 2 * math.sqrt(max(p * (1 - p) + q * (1 - q), 1e-12) / len(y))
        verdict = "ok" if abs(p - q) <= se and u >= p else "CHECK"
        print(f"{r:>10g} {p:>7.3f} {q:>7.3f} {abs(p - q):>7.3f} {se:>7.3f} {u:>14.3f}  {verdict}")
    speed(smoothed, base, x, args)


def speed(smoothed: Smoothed, base: nn.Module, x: Tensor, args: argparse.Namespace) -> None:
    """Time CERTIFY per input at ``--speed-n`` draws, feint against ART (the same rows per pass, and ART's
    default 32), and the one-off cost of feint's frozen copy of the model (built on the first call)."""
    art = art_smoothing(base, smoothed.sigma, args.n0, args.alpha)
    xs = x[: args.speed_inputs]
    n = args.speed_n
    started = time.perf_counter()
    built = frozen_copy(copy.deepcopy(base), xs[:1].repeat(args.batch_size, 1, 1, 1)) is not None
    build_s = time.perf_counter() - started
    times = timed_repeats(
        {
            "feint": lambda: smoothed.certify(xs, n=n, generator=torch.Generator().manual_seed(0)),
            "art": lambda: art_certify(art, xs, n, args.batch_size),
            "art32": lambda: art_certify(art, xs, n, 32),
        },
        args.repeats,
    )
    per_input = {k: statistics.median(v) / len(xs) for k, v in times.items()}
    for peer, label in (("art", f"ART at {args.batch_size} rows per pass"), ("art32", "ART at its default 32")):
        ratios = [t / f for t, f in zip(times[peer], times["feint"], strict=True)]
        q1, q2, q3 = quartiles(ratios) if len(ratios) > 2 else (min(ratios), statistics.median(ratios), max(ratios))
        print(f"speed: {label} / feint = {q2:.2f} (quartiles {q1:.2f}-{q3:.2f})")
    rows = args.n0 + n
    print(
        f"seconds per certified input ({rows} forward rows each): feint {per_input['feint']:.3f}, "
        f"ART {per_input['art']:.3f}, ART at 32 rows {per_input['art32']:.3f}"
    )
    frozen = f"built in {build_s:.2f} s, once per model" if built else "not built (its checks refused it)"
    print(f"feint's frozen copy of the model (counts of >= {FREEZE_ROWS} rows): {frozen}")


if __name__ == "__main__":
    main()
