"""Benchmark: the standard audit against PGD-100 x 10 restarts run at every eps, on Fashion-MNIST.

Two CNNs are trained through ``feint.train`` on a subset of the training set (cached under
``benchmarks/.cache``): a plain one, and one adversarially trained with FGSM from a random start
(Wong, Rice & Kolter 2020, "Fast is better than free"). For each, the script prints the
standard preset's worst-case accuracy at each eps beside PGD's (Madry et al. 2018) and the wall
time of both. The target: the audit is never weaker (worst case <= PGD accuracy at each eps) and
at least 5x faster over the whole curve.

With ``--adaptive`` it also measures, on the plain model, what the standard audit's adaptivity
costs (the audit escalates where a check warns or its targeted attack is still gaining): its time
against the fixed standard budget it grew from (APGD-T's 50 steps on one target class, no
escalation), timed alternately, and its worst case against the thorough preset's at every eps
(target: within 0.5 points).

    python benchmarks/audit_speed.py [--n 1000] [--train 20000] [--epochs 4] [--threads 2] [--adaptive | --adaptive-only]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

The standard audit against PGD-100 x 10 restarts at every eps on
Fashion-MNIST, for a plain and an adversarially trained CNN (target: never weaker and at least
5x faster overall; 5.9-6.3x measured). `--adaptive` (or `--adaptive-only`, which skips the PGD
comparison) adds the adaptive standard audit against the fixed budget it grew from (CPU time) and
against thorough (worst case at every eps); figures below.

On `benchmarks/audit_speed.py`'s undefended model (LeNet, 20,000 training images, 4 epochs; first
500 test images; `flock /tmp/feint-heavy.lock python benchmarks/audit_speed.py --n 500 --threads 2
--adaptive-only`), worst case in % at eps 0 / 0.025 / 0.05 / 0.1 / 0.15 / 0.2: the fixed budget
the standard preset grew from (APGD-T 50 steps on one class, no escalation) 89.0 / 67.4 / 35.6 /
5.8 / 0.4 / 0.0, the adaptive standard 89.0 / 67.4 / 35.2 / 4.4 / 0.2 / 0.0, thorough the same:
largest gap **0.00** points (it was 0.6 at eps 0.05 before the late gauge: the target now holds
there too). The late gauge fired at eps 0.05, 0.1 and 0.15 (APGD-CE broke 2, 3 and 3 inputs in
its second half), the gain gauge at 0.1 and 0.15; the rungs broke 5 (APGD-T #3-9), 3 (APGD-CE x3)
and 1 (APGD-T x9) more. It escalated, so it cost more: adaptive / fixed CPU time 3.49 (median of
3 alternating runs: 3.32, 3.49, 3.66).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

import feint
from feint.attacks.pgd import pgd
from feint.capabilities.audit.presets import Preset, get_preset
from feint.capabilities.audit.result import worst_case_accuracy
from feint.data import Dataset, load
from feint.errors import FeintError
from feint.measure.defaults import default_eps
from feint.models import load_config, load_model

CACHE = Path(__file__).resolve().parent / ".cache"
ARCH = {"channels": (16, 32), "hidden": 64}
ADV_EPS = 0.1
T = TypeVar("T")


def trained(name: str, data: Dataset, test: Dataset, *, epochs: int, adv: str | None) -> nn.Module:
    """The cached model ``name`` (per training size and epochs), trained through feint.train when missing."""
    folder = CACHE / f"{name}-{len(data)}-{epochs}"
    try:
        load_config(folder)
        return load_model(folder)
    except FeintError:
        pass
    # Goodfellow's objective with alpha = 0 and the given attack: training on its examples only.
    extra = {"recipe": "goodfellow", "recipe_options": {"eps": ADV_EPS, "alpha": 0.0, "attack": adv}} if adv else {}
    result = feint.train(
        "lenet", data, test, arch_kwargs=ARCH, epochs=epochs, lr=2e-3, seed=0, out=folder, resume=True, **extra
    )
    print(f"trained {name}: clean test accuracy {result.test_accuracy:.4f}")
    return result.model


def pgd_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: tuple[float, ...]) -> list[float]:
    """PGD-100 with 10 restarts at every eps on every input (early stopping per sample)."""
    acc = []
    for i, e in enumerate(eps):
        if e == 0:
            acc.append(float((feint.attacks.predict_logits(model, x).argmax(1) == y).float().mean()))
            continue
        res = pgd(model, x, y, eps=e, steps=100, restarts=10, seed=i, early_stop=True)
        acc.append(res.accuracy)
    return acc


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """``fn()``, its wall time and this process's CPU time (less sensitive to other load)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def compare(name: str, model: nn.Module, test: Dataset) -> tuple[float, float, bool]:
    eps = default_eps("fashion-mnist")
    folder = CACHE / f"audit-{name}"
    report, t_audit, c_audit = timed(
        lambda: feint.audit(model, test.x, test.y, eps=eps, out=folder, data_info=test.info, resume=False)
    )
    reference, t_pgd, c_pgd = timed(lambda: pgd_curve(model, test.x, test.y, eps))
    print(f"\n{name}: {len(test)} Fashion-MNIST test images, clean accuracy {report['clean_accuracy']:.4f}")
    print(f"{'eps':>8}  {'audit worst case':>16}  {'PGD-100x10':>10}")
    ok = True
    for e, a, p in zip(eps, worst_case_accuracy(report), reference, strict=True):
        ok &= a <= p + 1e-9
        print(f"{e:>8.4g}  {a:>16.4f}  {p:>10.4f}{'' if a <= p + 1e-9 else '  <- weaker'}")
    print(f"wall time: audit {t_audit:.1f} s, PGD {t_pgd:.1f} s, speed-up {t_pgd / t_audit:.1f}x")
    print(f"CPU time:  audit {c_audit:.1f} s, PGD {c_pgd:.1f} s, speed-up {c_pgd / c_audit:.1f}x")
    flagged = [c for c in report["checks"] if c["status"] != "pass"]
    print(f"checks flagged: {[c['name'] for c in flagged] or 'none'}")
    return t_audit, t_pgd, ok


def fixed_standard() -> Preset:
    """The standard preset as it was before it adapted: one APGD-T run of 50 steps, no gauge, no escalation."""
    plans = [p for p in get_preset("standard").attacks if p.gauge != "gain"]
    plans = [replace(p, params={**p.params, "steps": 50}) if p.key == "apgd-t" else p for p in plans]
    return Preset("standard", tuple(plans))


def adaptivity(model: nn.Module, test: Dataset, repeats: int = 3) -> None:
    """The adaptive standard audit against the fixed one (time, alternating order) and against thorough."""
    eps = default_eps("fashion-mnist")
    runs: dict[str, list[float]] = {"fixed": [], "adaptive": []}
    reports = {}
    for r in range(repeats):
        for name in ("fixed", "adaptive") if r % 2 == 0 else ("adaptive", "fixed"):
            preset = fixed_standard() if name == "fixed" else "standard"
            report, _, cpu = timed(
                lambda p=preset: feint.audit(model, test.x, test.y, eps=eps, preset=p, progress=False)
            )
            runs[name].append(cpu)
            reports[name] = report
    ratios = sorted(a / f for a, f in zip(runs["adaptive"], runs["fixed"], strict=True))
    escalation = reports["adaptive"].to_dict()["escalation"]
    median = ratios[len(ratios) // 2]
    print("\nplain: the adaptive standard audit against the fixed standard budget it grew from")
    print(f"  CPU time ratio {median:.3f} (median of {repeats}; all: {', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"  escalated: {escalation['escalated']}")
    for reason in escalation["reasons"]:
        print(f"    at eps {reason['eps']:g}: {'; '.join(reason['reasons'])}")
    for rung in escalation["rungs"]:
        print(f"    rung {rung['attack']}: broke {rung['broke']} at eps {rung['eps']} ({rung['seconds']:.1f} s)")
    thorough = feint.audit(model, test.x, test.y, eps=eps, preset="thorough", progress=False)
    gaps = [
        100 * (a - t)
        for a, t in zip(worst_case_accuracy(reports["adaptive"]), worst_case_accuracy(thorough), strict=True)
    ]
    print(f"{'eps':>8}  {'fixed':>7}  {'adaptive':>8}  {'thorough':>8}  gap (points)")
    for e, f, a, t, g in zip(
        eps,
        worst_case_accuracy(reports["fixed"]),
        worst_case_accuracy(reports["adaptive"]),
        worst_case_accuracy(thorough),
        gaps,
        strict=True,
    ):
        print(f"{e:>8.4g}  {f:>7.4f}  {a:>8.4f}  {t:>8.4f}  {g:+.2f}")
    print(f"largest gap to thorough: {max(map(abs, gaps)):.2f} points (target <= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="test images")
    parser.add_argument("--train", type=int, default=20000, help="training images")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--adaptive", action="store_true", help="also measure the standard audit's adaptivity")
    parser.add_argument(
        "--adaptive-only", action="store_true", help="measure only the adaptivity (no PGD comparison, no fgsm_rs model)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    train = load("fashion-mnist", "train").sample(args.train, seed=0)
    test = load("fashion-mnist", "test").head(args.n)
    if args.adaptive_only:
        adaptivity(trained("plain", train, test, epochs=args.epochs, adv=None), test)
        return
    models = {
        "plain": trained("plain", train, test, epochs=args.epochs, adv=None),
        "fgsm_rs": trained("fgsm_rs", train, test, epochs=args.epochs, adv="fgsm_rs"),
    }
    total_audit = total_pgd = 0.0
    never_weaker = True
    for name, model in models.items():
        t_audit, t_pgd, ok = compare(name, model, test)
        total_audit, total_pgd, never_weaker = total_audit + t_audit, total_pgd + t_pgd, never_weaker and ok
    print(f"\noverall: audit {total_audit:.1f} s, PGD {total_pgd:.1f} s, speed-up {total_pgd / total_audit:.1f}x, ")
    print(f"never weaker than PGD: {never_weaker}")
    if args.adaptive:
        adaptivity(models["plain"], test)


if __name__ == "__main__":
    main()
