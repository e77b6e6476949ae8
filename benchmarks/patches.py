"""Benchmark: universal perturbations, adversarial patches and stickers against ART, same run.

1. Universal perturbation (Moosavi-Dezfooli et al. 2017), Linf, on the digits LeNet and a
   Fashion-MNIST CNN (the cached models of ``audit_speed.py``): feint's
   ``universal_perturbation`` against ART's ``UniversalPerturbation`` (its default DeepFool
   attacker, delta 0.2) at the same eps, fitted on the same ``--fit`` training images, the
   fooling rate (prediction changed) measured on ``--n`` held-out test images.
2. Adversarial patch (Brown et al. 2017), untargeted: feint's ``adversarial_patch`` against ART's
   ``AdversarialPatchPyTorch`` (square patch) at each area, with the same placement distribution
   (side scaled 0.9-1.1x, rotation +-20 degrees, anywhere in the image), the same optimiser (Adam,
   lr 0.05) and the same budget of patched images (ART: ``--patch-epochs`` epochs over the fit
   images; feint: as many steps of 32 images x 4 placements); success on held-out images, each
   patch put on ``--draws`` times by its own tool at its own area.
3. Sticker (Eykholt et al. 2018), Fashion-MNIST: a square sticker of <= 10% of the image targeted
   from class ``--source`` to ``--target``, trained on the training images of the source class under
   EOT over the print-and-photo pipeline, then measured on held-out test images of the source class
   through that pipeline (``--draws`` draws each). Target: >= 80% targeted success.

Wall times are the median of per-repeat ratios over ``--repeats`` interleaved repeats (order
alternating), one torch thread, glibc told to keep freed memory (``attack_speed.py``'s helpers).
Target: feint at least as strong as ART in at most half its wall time.

ART's patch needs torchvision's Python transforms; install the wheel that matches torch 2.13
without its dependencies (it would pull another torch build) into the benchmark cache:

    pip install --no-deps --target benchmarks/.cache/torchvision torchvision==0.28.0
    OMP_NUM_THREADS=1 python benchmarks/patches.py [--parts universal,patch,sticker] [--fit 1000] [--n 1000]
        [--repeats 3] [--models digits,fashion]

Measured 2026-12-06 (docs/benchmarks.md, "Stickers, patches and universal perturbations", has the
table), with ``--fit 400 --n 1000 --repeats 2 --art-passes 2``:

- universal, held-out fooling rate: digits Linf 0.2 feint 73.3% vs ART 21.7%, Fashion-MNIST
  Linf 0.1 20.5% vs 16.5%; time ratio 0.006 on both: met.
- patch, held-out success (feint / ART, placed by feint's then ART's operator): digits 2x2 px
  16.8% / 16.8%, 18.9% / 18.9%; 4x4 px 71.5% / 71.5%, 67.1% / 67.1% (both tools find the same
  patch), time ratio 0.06; Fashion-MNIST 6x6 px 11.27% / 11.24%, 12.02% / 12.05% (not met by
  0.03 points), 8x8 px 16.4% / 16.4%, 16.8% / 16.8%, 14x14 px 49.5% / 48.5%, 49.7% / 47.2%; time
  ratio 0.26-0.33.
- sticker (``--parts sticker --models none --fit 400 --n 1000``): coat -> pullover, 8.2% of the
  image, 88.1% targeted success through print and photo (random sticker 32.0%): met; T-shirt ->
  bag with the square centred (``--source 0 --target 8 --mask-row 0.5``): 4.8%, not met.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from attack_speed import keep_freed_memory, timed_repeats
from audit_speed import CACHE, trained
from torch import Tensor, nn

from feint.attacks.patches import Placement, adversarial_patch, make_mask, sticker, universal_perturbation
from feint.attacks.patches.evaluate import counted, random_like, rate, success_draws
from feint.attacks.result import predict_logits
from feint.data import Dataset, load
from feint.transforms import print_and_photo

TORCHVISION = CACHE / "torchvision"
LR = 0.05
DEGREES = 20.0


def art_classifier(model: nn.Module, shape: tuple[int, ...], classes: int) -> Any:
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model, loss=nn.CrossEntropyLoss(), input_shape=shape, nb_classes=classes, clip_values=(0.0, 1.0)
    )


def import_torchvision() -> bool:
    """torchvision's Python transforms for ART's patch; its compiled ops (not used) do not load
    against the CPU torch build, so their meta registrations are skipped."""
    if TORCHVISION.is_dir():
        sys.path.insert(0, str(TORCHVISION))
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return False
    return True


def fooling_rate(model: nn.Module, x: Tensor, v: Tensor) -> float:
    """Moosavi-Dezfooli et al.'s fooling rate: the prediction changes."""
    before = predict_logits(model, x).argmax(1)
    after = predict_logits(model, (x + v).clamp(0, 1)).argmax(1)
    return float((before != after).float().mean())


def ratio_line(name: str, times: dict[str, list[float]], ours: str, theirs: str) -> float:
    ratios = [a / b for a, b in zip(times[ours], times[theirs], strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"  {name}: feint {statistics.median(times[ours]):.2f} s, ART {statistics.median(times[theirs]):.2f} s, "
        f"time ratio (median of per-repeat ratios) {ratio:.3f}"
    )
    return ratio


def universal_part(
    label: str, model: nn.Module, fit: Dataset, held: Dataset, eps: float, args: argparse.Namespace
) -> None:
    from art.attacks.evasion import UniversalPerturbation

    classifier = art_classifier(model, tuple(fit.x.shape[1:]), fit.info.num_classes)
    xf, yf = fit.x, fit.y
    out: dict[str, Tensor] = {}

    def ours() -> None:
        out["feint"] = universal_perturbation(
            model, xf, yf, eps=eps, norm="inf", passes=args.passes, delta=0.2, seed=0
        ).pattern

    def theirs() -> None:
        attack = UniversalPerturbation(
            classifier,
            attacker="deepfool",
            attacker_params={"verbose": False},
            delta=0.2,
            max_iter=args.art_passes,
            eps=eps,
            norm=np.inf,
            verbose=False,
        )
        attack.generate(xf.numpy())
        out["art"] = torch.from_numpy(np.asarray(attack.noise[0], dtype=np.float32))

    times = timed_repeats({"feint": ours, "art": theirs}, args.repeats)
    mine, art = fooling_rate(model, held.x, out["feint"]), fooling_rate(model, held.x, out["art"])
    print(f"\nuniversal perturbation, {label}, Linf eps {eps:g}, fit on {len(fit)} train, measured on {len(held)} test")
    print(
        f"  held-out fooling rate: feint {mine:.4f}, ART {art:.4f}  (Linf: feint {float(out['feint'].abs().max()):.4f}, ART {float(out['art'].abs().max()):.4f})"
    )
    ratio = ratio_line("wall time", times, "feint", "art")
    print(
        f"  target (at least as strong, at most half the time): {'holds' if mine >= art and ratio <= 0.5 else 'does NOT hold'}"
    )


def patch_part(label: str, model: nn.Module, fit: Dataset, held: Dataset, args: argparse.Namespace) -> None:
    from art.attacks.evasion import AdversarialPatchPyTorch

    classifier = art_classifier(model, tuple(fit.x.shape[1:]), fit.info.num_classes)
    height, width = int(fit.x.shape[-2]), int(fit.x.shape[-1])
    steps = max(1, args.patch_epochs * len(fit) // (32 * 4))
    ok = counted(model, held.x, held.y, None)
    print(
        f"\nadversarial patch, {label}, untargeted, fit on {len(fit)} train ({args.patch_epochs} epochs = {steps} feint steps of 32 x 4), measured on {int(ok.sum())} test x {args.draws} placements"
    )
    for area in [float(a) for a in args.areas.split(",")]:
        out: dict[str, Any] = {}

        def ours(area: float = area, out: dict[str, Any] = out) -> None:
            out["feint"] = adversarial_patch(
                model, fit.x, fit.y, area=area, steps=steps, samples=4, step_size=LR,
                placement=Placement((0.9, 1.1), (-DEGREES, DEGREES)), seed=0,
            )  # fmt: skip

        def theirs(out: dict[str, Any] = out) -> None:
            side = out["feint"].pattern.shape[-1] if "feint" in out else None
            assert side is not None
            attack = AdversarialPatchPyTorch(
                classifier, rotation_max=DEGREES, scale_min=0.9 * side / width, scale_max=1.1 * side / width,
                learning_rate=LR, max_iter=args.patch_epochs, batch_size=128, patch_shape=(1, side, side),
                patch_type="square", optimizer="Adam", targeted=False, verbose=False,
            )  # fmt: skip
            attack.generate(fit.x.numpy(), y=np.eye(fit.info.num_classes)[fit.y.numpy()])
            out["art"] = (attack, side)

        ours()
        times = timed_repeats({"feint": ours, "art": theirs}, args.repeats)
        result = out["feint"]
        side = int(result.pattern.shape[-1])
        covered = side * side / (height * width)
        attack, _ = out["art"]
        theirs_as_ours = replace(result, pattern=attack._patch.detach().float().cpu())
        # each patch measured by both placement operators (feint's affine paste, ART's apply_patch)
        by_feint = [
            rate(success_draws(model, r, held.x, held.y, draws=args.draws, seed=1, area=covered), ok) or 0.0
            for r in (result, theirs_as_ours)
        ]
        by_art = [art_success(attack, model, p, held, ok, side / width, args.draws) for p in (result.pattern, None)]
        print(
            f"  area {covered:.3f} ({side}x{side} px): held-out success feint / ART, placed by feint: "
            f"{by_feint[0]:.4f} / {by_feint[1]:.4f}; placed by ART: {by_art[0]:.4f} / {by_art[1]:.4f}"
        )
        stronger = by_feint[0] >= by_feint[1] and by_art[0] >= by_art[1]
        ratio = ratio_line("wall time", times, "feint", "art")
        verdict = "holds" if stronger and ratio <= 0.5 else "does NOT hold"
        print(f"  target (feint at least as strong under both placements, at most half the time): {verdict}")


def art_success(
    attack: Any, model: nn.Module, patch: Tensor | None, held: Dataset, ok: Tensor, scale: float, draws: int
) -> float:
    """Success of ``patch`` (None: ART's own) put on by ART's ``apply_patch`` at ``scale``, seeded draws."""
    hits = []
    for d in range(draws):
        np.random.seed(1000 + d)
        torch.manual_seed(1000 + d)
        given = None if patch is None else patch.numpy()
        patched = attack.apply_patch(held.x.numpy(), scale=scale, patch_external=given)
        hits.append(predict_logits(model, torch.from_numpy(np.asarray(patched, dtype=np.float32))).argmax(1) != held.y)
    return rate(torch.stack(hits), ok) or 0.0


def sticker_part(model: nn.Module, train: Dataset, test: Dataset, args: argparse.Namespace) -> None:
    source, target = args.source, args.target
    fit, held = train.x[train.y == source][: args.fit], test.x[test.y == source][: args.n]
    mask = make_mask("square", 28, 28, 0.1, at=(args.mask_row, 0.5))
    pipeline = print_and_photo()
    t0 = time.perf_counter()
    result = sticker(
        model, fit, torch.full((len(fit),), source), mask=mask, target=target, transform=pipeline,
        steps=args.sticker_steps, samples=4, seed=0,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    y = torch.full((len(held),), source)
    plain = rate(success_draws(model, result, held, y, draws=1), torch.ones(len(held), dtype=torch.bool))
    photo = rate(
        success_draws(model, result, held, y, draws=args.draws, seed=2, transform=pipeline),
        torch.ones(len(held), dtype=torch.bool),
    )
    baseline = rate(
        success_draws(model, random_like(result, seed=3), held, y, draws=args.draws, seed=2, transform=pipeline),
        torch.ones(len(held), dtype=torch.bool),
    )
    names = train.info.class_names
    print(
        f"\nsticker, Fashion-MNIST, class {source} ({names[source]}) -> {target} ({names[target]}), square of {float(mask.mean()):.3f} of the image centred at row {args.mask_row:g}"
    )
    print(
        f"  trained on {len(fit)} train images of the source class, {args.sticker_steps} steps x 32 images x 4 pipeline draws, {seconds:.0f} s"
    )
    print(
        f"  targeted success on {len(held)} held-out test images of the source class: {plain:.4f} untransformed, {photo:.4f} through print and photo ({args.draws} draws); a random sticker in the same mask through print and photo: {baseline:.4f}"
    )
    print(
        f"  target (>= 80% through print and photo at <= 10% of the area): {'holds' if (photo or 0) >= 0.8 else 'does NOT hold'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="universal,patch,sticker")
    parser.add_argument("--models", default="digits,fashion")
    parser.add_argument("--fit", type=int, default=1000, help="training images the patterns are fitted on")
    parser.add_argument("--n", type=int, default=1000, help="held-out test images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--passes", type=int, default=10, help="feint's universal perturbation: most passes")
    parser.add_argument("--art-passes", type=int, default=5, help="ART's UniversalPerturbation max_iter")
    parser.add_argument("--areas", default="0.05,0.1,0.25")
    parser.add_argument("--patch-epochs", type=int, default=8)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--source", type=int, default=4, help="sticker: the class of the object (4: coat)")
    parser.add_argument("--target", type=int, default=2, help="sticker: the class aimed at (2: pullover)")
    parser.add_argument("--mask-row", type=float, default=0.25, help="sticker: the square's centre row (fraction)")
    parser.add_argument("--sticker-steps", type=int, default=300)
    parser.add_argument("--train", type=int, default=20000, help="Fashion-MNIST training images (the cached CNN)")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"glibc keeps freed memory: {keep_freed_memory()}")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    models = {}
    if "digits" in args.models:
        digits_train, digits_test = load("digits", "train"), load("digits", "test")
        net = trained("digits-lenet", digits_train, digits_test, epochs=15, adv=None)
        models["digits LeNet"] = (net, digits_train, digits_test, 0.2)
    if "fashion" in args.models or "sticker" in args.parts:
        f_train_all, f_test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
        cnn = trained("plain", f_train_all.sample(args.train, seed=0), f_test.head(1000), epochs=args.epochs, adv=None)
        if "fashion" in args.models:
            models["Fashion-MNIST CNN"] = (cnn, f_train_all, f_test, 0.1)
    for label, (net, train, test, eps) in models.items():
        net.eval()
        fit, held = train.sample(args.fit, seed=1), test.sample(args.n, seed=2)
        if "universal" in args.parts:
            universal_part(label, net, fit, held, eps, args)
        if "patch" in args.parts:
            if import_torchvision():
                patch_part(label, net, fit, held, args)
            else:
                print(
                    f"\nadversarial patch: ART's patch needs torchvision; see this script's docstring ({TORCHVISION})"
                )
    if "sticker" in args.parts:
        sticker_part(cnn, f_train_all, f_test, args)


if __name__ == "__main__":
    main()
