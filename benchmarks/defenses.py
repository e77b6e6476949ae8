"""Benchmark: every defense recipe on Fashion-MNIST, measured by the audit — not by the attack it trained on.

On the full training set (60,000 images) the script trains, through ``feint.train`` and cached under
``benchmarks/.cache/defenses``: an undefended ``convnet``; every recipe with its defaults at eps 0.1
on the same ``convnet`` — ``fast-at`` through exactly the command ``feint train --recipe fast-at
--data fashion-mnist --adv-eps 0.1 --out DIR``, timed; ``ensemble-at`` with two static undefended
sources (a wider convnet and an MLP); ``distill`` at T = 100 — and a held-out undefended LeNet that
only crafts the black-box examples. On the first ``--n`` test images it prints, per model: clean
accuracy; FGSM, PGD-50 and the standard audit's worst case at eps 0.1; black-box accuracy on FGSM and
MI-FGSM examples transferred from the held-out model at eps 0.1; training time (wall and CPU); and
for every eps of the audit grid the standard and the thorough worst case side by side. For the
distilled and the undefended model it adds JSMA's success rate in the paper's softmax form and on
the logits (Carlini & Wagner 2016's variant).

Targets (Tramèr et al. 2018; Wong et al. 2020; Papernot et al. 2016; Carlini & Wagner 2016): fast-at
>= 70% standard worst case at eps 0.1 within 5 training minutes; pgd-at and trades at least as robust;
ensemble-at a lower black-box error than goodfellow (single-model FGSM training); distill: FGSM and
JSMA mostly fail, the audit breaks it and warns; the standard worst case within 0.5 points of the
thorough one at every eps on every model.

    flock /tmp/feint-heavy.lock python benchmarks/defenses.py [--n 1000] [--models all|a,b] [--thorough all|a,b] [--blackbox-only]

``--models`` measures a subset, ``--thorough`` limits the (costly) thorough audits to some models;
the report then says which rows and targets were not measured. The audits resume from
``benchmarks/.cache/defenses/audits`` only when feint's code is unchanged: the audit's resume
fingerprint includes a digest of feint's sources (:func:`feint.version.code_digest`), so a
rerun after a code change audits afresh instead of reporting numbers of the old code.

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

(train once with `--train-only`; models cached in
`benchmarks/.cache/defenses`): every recipe with its defaults on the full Fashion-MNIST training
set and an undefended baseline, measured on the first `--n` test images at eps 0.1 — clean
accuracy, FGSM, PGD-50, the standard audit's worst case, black-box accuracy on FGSM and MI-FGSM
examples transferred from a held-out undefended LeNet, training minutes — and the standard
against the thorough audit at every eps; `--models` and `--thorough` measure a subset, and the
report names what was not measured. Figures: see Defenses above.

Measured (`flock /tmp/feint-heavy.lock python benchmarks/defenses.py --threads 2 --n 500`, every
model of the table in one run, on the models cached by earlier `--train-only` runs; ensemble-at
retrained with its new default, FGSM examples — see below): every model trained on the full
Fashion-MNIST training set, evaluated on the first 500 test images at eps 0.1 (accuracy in %);
black-box columns are examples crafted on a held-out undefended LeNet (MI-FGSM with its full 10
steps on every input: an earlier version of the benchmark stopped each example as soon as it fooled
the LeNet, which left it on the LeNet's decision boundary, where it transferred to almost nothing —
81.6% accuracy on the undefended model); training minutes are the training batches' (the teacher's
included for distill) on 2 shared cores, 1 torch thread except fast-at's command.

| model | clean | FGSM | PGD-50 | standard audit (worst case) | black-box FGSM | black-box MI-FGSM | training min (CPU min) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| undefended (5 epochs) | 90.8 | 3.6 | 1.0 | 0.6 | 26.6 | 23.4 | 5.6 (1.6): a first epoch under heavy load |
| goodfellow | 90.0 | 86.8 | 16.0 | 13.4 | 83.2 | 85.4 | 1.9 (1.6) |
| pgd-at | 86.6 | 79.8 | 77.6 | 75.6 | 83.6 | 83.0 | 16.6 (6.1): busy cores |
| fast-at | 87.0 | 82.0 | 76.8 | 75.4 | 84.0 | 84.2 | 1.8 (1.5) |
| trades | 86.0 | 78.2 | 77.2 | 75.2 | 82.6 | 83.0 | 5.9 (9.2): 2 threads |
| ensemble-at (FGSM examples) | 89.4 | 71.6 | 10.2 | 5.8 | **88.0** | **88.4** | 0.6 (1.2) |
| distill (T = 100) | 87.0 | 80.0 | 75.6 | 0.4 | 27.0 | 23.4 | 1.2 (1.2) |

- fast-at: `feint train --recipe fast-at --data fashion-mnist --adv-eps 0.1` with its defaults took
  2.0 minutes wall (1.7 CPU minutes, data loading included); the standard audit's worst case is
  75.4% here and 71.0% on a seeded random 1,000 test images (`feint audit --model DIR --data
  fashion-mnist --n-inputs 1000 --eps 0.1`): the 70% target holds. Its robust accuracy during training
  (APGD-DLR-10, 500 test images) against training minutes: 61.4% after 0.2, 69.6% after 0.9,
  70.8% after 1.0, 75.2% after 1.5, 75.4% after 1.8 (10 epochs; the guard never fired).
- pgd-at and trades: pgd-at 75.6% against fast-at's 75.4% (holds, by one image of 500). trades is
  75.2%, **one image below** fast-at: the target (at least as robust) is **missed** by one image —
  well within the sampling error of 500 images (about ±1.9 points), and the thorough audit orders
  them the same way (trades 75.0%, fast-at 75.2%). It had held by 2 images with the audit before
  the late gauge (75.8%), which missed what thorough's longer APGD-CE found on trades. Measured on
  the first 2,000 test images instead (`flock /tmp/feint-heavy.lock python benchmarks/defenses.py
  --threads 2 --n 2000 --models fast-at,pgd-at,trades --no-thorough`, sampling error about ±0.9
  points), the standard audit's worst case at eps 0.1 is pgd-at 75.2%, trades 73.7%, fast-at 73.0%
  (clean 85.9 / 85.2 / 86.3, PGD-50 76.8 / 75.6 / 75.0): **both hold** (trades by 14 images), and
  fast-at's 73.0% keeps the 70% target. On digits
  (convnet, eps 0.1, all 360 test images, standard audit) the defaults give pgd-at 69.7% and
  trades 71.7% against fast-at's 67.5% (each `feint.train("convnet", train, recipe=NAME,
  recipe_options={"eps": 0.1})`, then `feint.audit(model, x, y, eps=[0.1])`). pgd-at and trades
  default to fast-at's cyclic schedule and settings (with Adam at a constant 1e-3, batch 64, they
  were less robust than fast-at: 72.4% and 74.4%).
- goodfellow (FGSM training) overfits catastrophically in its 7th epoch (robust accuracy during
  training 66% -> 21%); FGSM accuracy stays at 86.8% while PGD breaks it — the label-leaking /
  catastrophic-overfitting picture.
- ensemble-at against goodfellow, black-box error (100 − accuracy) on the held-out LeNet's
  transfers: FGSM **12.0%** against 16.8%, MI-FGSM **11.6%** against 14.6%: the target (lower
  black-box error than single-model FGSM training, the direction of Tramèr et al.'s MNIST 15.5% ->
  3.9%) **holds**. What changed: ensemble-at used to train on RAND+FGSM examples (a random sign step
  of eps/2, then a gradient step of eps/2) — the paper's ImageNet recipe — and had the *higher*
  black-box error (FGSM 82.2%, MI-FGSM 81.8% accuracy against goodfellow's 83.2% / 85.4%). The
  paper's MNIST experiments, the ones the target cites, train on FGSM examples at the full eps
  (the authors' MNIST reference code: FGSM at eps 0.3 from the static models or the current one,
  drawn uniformly per batch; its loss is 0.5·(CE on the clean batch + CE on its adversarial copy),
  feint keeps Kurakin et al.'s half-clean, half-adversarial batch). With RAND+FGSM only half of each perturbation's
  budget followed a gradient, so the transferred examples the model saw were much weaker than the
  FGSM examples an attacker transfers at the same eps, while goodfellow trained on full-eps FGSM
  points. `method="fgsm"` (`--method fgsm`) is now a method and the default (RAND+FGSM and Step-LL
  remain); the sources, the held-out model, eps, epochs and the batch (half clean, half
  adversarial) are unchanged, so goodfellow and ensemble-at now differ only in where their FGSM
  examples come from — the paper's controlled comparison. The change was chosen from the paper, not
  tuned on the held-out model: it was the one variant trained (`/tmp`, then copied into the cache:
  the same call the benchmark makes) and measured once. The price, as in the paper (ensemble
  adversarial training is a defense against transferred examples, not white-box ones): trained on
  FGSM points, ensemble-at now overfits catastrophically like goodfellow — PGD-50 10.2% and a
  standard worst case of 5.8% at eps 0.1, against 36.4% and 30.6% with RAND+FGSM, FGSM 71.6%
  against 55.2%, clean 89.4% against 90.2%. Retrain the previous variant with `--method rand-fgsm`.
  The black-box columns alone: `python benchmarks/defenses.py --blackbox-only --n 500 --models
  goodfellow,ensemble-at` (seconds).
- distill at T = 100: FGSM 80.0% and JSMA in the paper's softmax form 0% success (the paper's
  claim), JSMA on the logits 80% success; the standard audit's worst case is 0.4%, the gradient
  check warns, and the audit escalated.
- Standard against thorough worst case at every eps, every model of the table (the run above,
  500 images: one image is 0.2 points), in % at eps 0 / 0.025 / 0.05 / 0.1 / 0.15 / 0.2, largest
  gap, what fired (triggers; see the audit section), and wall seconds of each audit in that run
  (2 torch threads on 2 cores shared with other jobs: noisy):

  | model | standard | thorough | largest gap | triggers | seconds standard / thorough |
  | --- | --- | --- | ---: | --- | ---: |
  | undefended | 90.8 / 52.2 / 11.8 / 0.6 / 0.0 / 0.0 | 90.8 / 52.0 / 11.8 / 0.4 / 0.0 / 0.0 | 0.2 | gain, late | 7 / 49 |
  | goodfellow | 90.0 / 52.4 / 32.8 / 13.4 / 1.4 / 0.2 | 90.0 / 52.0 / 32.4 / 13.2 / 1.6 / 0.2 | 0.4 | check, late | 108 / 33 (a loaded moment: 27 s in an earlier run) |
  | pgd-at | 86.6 / 85.4 / 82.8 / 75.6 / 11.4 / 0.6 | 86.6 / 85.4 / 82.8 / 75.6 / 11.6 / 0.4 | 0.2 | check, gain, late | 43 / 73 |
  | fast-at | 87.0 / 86.0 / 82.8 / 75.4 / 3.4 / 0.0 | 87.0 / 86.0 / 82.6 / 75.2 / 2.8 / 0.0 | **0.6** | late | 26 / 68 |
  | trades | 86.0 / 83.8 / 82.8 / 75.2 / 7.4 / 1.2 | 86.0 / 83.8 / 82.8 / 75.0 / 7.2 / 1.2 | 0.2 | check, gain, late | 46 / 73 |
  | ensemble-at | 89.4 / 54.2 / 25.2 / 5.8 / 0.2 / 0.0 | 89.4 / 54.2 / 24.8 / 5.6 / 0.2 / 0.0 | 0.4 | check, gain, late | 29 / 42 |
  | distill | 87.0 / 51.8 / 16.8 / 0.4 / 0.0 / 0.0 | 87.0 / 51.8 / 16.6 / 0.4 / 0.0 / 0.0 | 0.2 | check, gain | 9 / 23 |

  Before the late gauge the gaps were goodfellow 1.2, fast-at 1.0, ensemble-at (the RAND+FGSM
  model) 2.6, trades 0.8: the escalation fired only on masking checks and the targeted gauge, and
  its ladder had no untargeted rung, so an unconverged APGD-CE (50 steps, 1 restart, against
  thorough's 100 x 3) went unseen. Now the late gauge fires wherever APGD-CE was still finding
  adversarial points in the second half of its run, and the thorough APGD-CE and APGD-T rungs run
  there; on the RAND+FGSM ensemble-at model (measured before it was replaced,
  same code) the gap fell from 2.6 to 0.4 (28.2% at eps 0.1 against thorough's 28.0%). The target
  (within 0.5 points at every eps) now **holds on six of the seven models** and is **missed on
  fast-at by one image** (0.6 points at eps 0.15: 17 inputs robust against thorough's 14). Those
  three are at the noise floor of thorough itself: thorough run again with seed 1 gives fast-at
  82.2 / 75.0 / 3.2 at eps 0.05 / 0.1 / 0.15 against 82.6 / 75.2 / 2.8 with seed 0 (0.4 points
  apart), and of the three inputs, APGD-CE 100 x 3 and APGD-T 100 x 9 with seeds 0-4 break two in 3
  of 5 seeds and the third in none (FMN-200 or thorough's particular seed found it). Measured on
  the first 2,000 test images instead (`flock /tmp/feint-heavy.lock python benchmarks/defenses.py
  --threads 2 --n 2000 --models fast-at --thorough fast-at`), fast-at's standard audit gives 86.3 /
  83.6 / 80.7 / 73.0 / 2.3 / 0.1 against thorough's 86.3 / 83.6 / 80.4 / 73.0 / 2.2 / 0.1: largest
  gap **0.3 points, within the target** (thorough took 281 s; it escalated on the gain and late gauges).
  Every other model on the same 2,000 images (`flock /tmp/feint-heavy.lock python benchmarks/defenses.py
  --threads 2 --n 2000 --models undefended,goodfellow,distill,ensemble-at,pgd-at,trades --thorough all`),
  largest gap standard vs thorough over eps 0 / 0.025 / 0.05 / 0.1 / 0.15 / 0.2: undefended 0.20,
  goodfellow 0.35, pgd-at 0.15, trades 0.20, ensemble-at 0.25, distill 0.05 points — **the target
  holds on every model at 2,000 images** (every one escalated; the report names its triggers).
  The same run's table (clean / FGSM / PGD-50 / standard worst case / black-box FGSM / MI-FGSM, eps
  0.1): undefended 90.2 / 4.0 / 0.5 / 0.4 / 28.0 / 25.3; goodfellow 89.7 / 86.0 / 16.9 / 13.9 /
  82.1 / 84.2; pgd-at 85.9 / 78.7 / 76.8 / 75.2 / 82.1 / 82.1; trades 85.2 / 77.2 / 75.6 / 73.7 /
  81.3 / 81.1; ensemble-at 89.1 / 72.3 / 10.1 / 5.2 / **88.5 / 88.1** (black-box error below
  goodfellow's: holds); distill 87.9 / 79.9 / 76.8 / 0.4 / 27.5 / 25.0 (FGSM and softmax JSMA, 0.0%
  success, mostly fail; the audit breaks it and the gradient check warns: holds).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from defense_models import CACHE, EPS, MODELS, train_model
from torch import nn

import feint
from feint.attacks import fgsm, jsma, mifgsm, pgd, predict_logits
from feint.data import Dataset, load
from feint.models import load_model


def timed_cli_fast_at(folder: Path) -> dict[str, float]:
    """Train fast-at with the command line's defaults in a child process; its wall and CPU time."""
    if not (folder / "config.json").is_file():
        command = [sys.executable, "-m", "feint", "train", "--recipe", "fast-at", "--data", "fashion-mnist"]
        command += ["--adv-eps", str(EPS), "--out", str(folder), "--overwrite"]
        print("$ feint " + " ".join(command[3:]), flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(command, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        (folder / "command_time.json").write_text(json.dumps({"wall": time.perf_counter() - wall, "cpu": cpu}))
    return json.loads((folder / "command_time.json").read_text())


def training_time(folder: Path) -> tuple[float, float]:
    """Seconds spent in training batches (wall, CPU), the teacher's included for distillation."""
    wall = cpu = 0.0
    for history in (folder / "history.json", folder / "teacher" / "history.json"):
        if history.is_file():
            for h in json.loads(history.read_text()):
                wall, cpu = wall + h["seconds"], cpu + h["cpu_seconds"]
    return wall, cpu


def robust_against_minutes(folder: Path) -> list[tuple[float, float]]:
    """(training minutes so far, robust test accuracy) after each epoch, from the run's history."""
    minutes, curve = 0.0, []
    for h in json.loads((folder / "history.json").read_text()):
        minutes += h["seconds"] / 60
        curve.append((minutes, h["robust_accuracy"]))
    return curve


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict_logits(model, x).argmax(1) == y).float().mean())


def jsma_rates(model: nn.Module, test: Dataset) -> dict[str, float]:
    """JSMA's success on 100 clean-correct inputs: the paper's softmax form and the logit form."""
    x, y = test.x[:200], test.y[:200]
    keep = predict_logits(model, x).argmax(1) == y
    x, y = x[keep][:100], y[keep][:100]
    return {space: jsma(model, x, y, space=space, seed=0).success_rate for space in ("probs", "logits")}


def evaluate(name: str, model: nn.Module, test: Dataset, transfer: dict[str, torch.Tensor], thorough: bool) -> dict:
    """The row of one model; the thorough audit beside the standard one when ``thorough``."""
    x, y = test.x, test.y
    row: dict[str, Any] = {
        "clean": accuracy(model, x, y),
        "fgsm": fgsm(model, x, y, eps=EPS).accuracy,
        "pgd50": pgd(model, x, y, eps=EPS, steps=50, seed=0).accuracy,
        **{f"blackbox_{k}": accuracy(model, v, y) for k, v in transfer.items()},
    }
    for preset in ("standard", "thorough") if thorough else ("standard",):
        folder = CACHE / "audits" / f"{name}-{preset}-{len(y)}"
        wall, cpu = time.perf_counter(), time.process_time()
        report = feint.audit(model, x, y, preset=preset, out=folder, data_info=test.info, progress=False)
        d = report.to_dict()
        row[preset] = {
            "eps": d["eps"],
            "worst_case": d["worst_case"]["accuracy"],
            "warned": [c["name"] for c in d["checks"] if c["status"] != "pass"],
            "escalation": d["escalation"],
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu,
        }
    row["audit"] = row["standard"]["worst_case"][row["standard"]["eps"].index(EPS)]
    return row


def _names(text: str, allowed: tuple[str, ...]) -> list[str]:
    names = allowed if text == "all" else tuple(n for n in text.split(",") if n)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def main() -> None:
    from defense_table import ORDER, print_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="test images (the first n)")
    parser.add_argument("--models", default="all", help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--thorough", default="all", help="models that also get the thorough audit (all, or a list)")
    parser.add_argument("--no-thorough", dest="thorough", action="store_const", const="", help="no thorough audits")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--train-only", action="store_true", help="train (and cache) the models, then stop")
    parser.add_argument("--blackbox-only", action="store_true", help="print only the black-box accuracies")
    args = parser.parse_args()
    chosen = _names(args.models, ORDER)
    thorough = set(_names(args.thorough, ORDER))
    if args.threads:
        torch.set_num_threads(args.threads)
    CACHE.mkdir(parents=True, exist_ok=True)
    train, test = load("fashion-mnist", "train"), load("fashion-mnist", "test").head(args.n)
    command_time = timed_cli_fast_at(CACHE / "fast-at") if "fast-at" in chosen else None
    needed = ["holdout", *(["source-wide", "source-mlp"] if "ensemble-at" in chosen else []), *chosen]
    full_test = load("fashion-mnist", "test")
    models = {name: train_model(name, train, full_test) for name in dict.fromkeys(needed) if name in MODELS}
    holdout = models.pop("holdout")
    for source in ("source-wide", "source-mlp"):
        models.pop(source, None)
    if command_time is not None:
        models["fast-at"] = load_model(CACHE / "fast-at")
    models = {name: models[name] for name in chosen}
    if args.train_only:
        return
    # Transferred examples take the attack's full budget on every input (Tramèr et al. 2018; Dong et
    # al. 2018): stopping each one as soon as it fools the held-out model leaves it on that model's
    # decision boundary, where it transfers to almost nothing.
    transfer = {
        "fgsm": fgsm(holdout, test.x, test.y, eps=EPS).x_adv,
        "mifgsm": mifgsm(holdout, test.x, test.y, eps=EPS, steps=10, early_stop=False).x_adv,
    }
    if args.blackbox_only:
        for name, model in models.items():
            accs = ", ".join(f"{k} {100 * accuracy(model, v, test.y):.1f}%" for k, v in transfer.items())
            print(f"{name}: black-box accuracy at eps {EPS} on {args.n} test images: {accs}")
        return
    results = {}
    for name, model in models.items():
        print(f"evaluating {name}", flush=True)
        results[name] = evaluate(name, model, test, transfer, name in thorough)
        results[name]["train_wall"], results[name]["train_cpu"] = training_time(CACHE / name)
        if name == "fast-at":
            results[name]["command"] = command_time
            results[name]["curve"] = robust_against_minutes(CACHE / name)
        if name in ("undefended", "distill"):
            results[name]["jsma"] = jsma_rates(model, test)
        (CACHE / f"results-{args.n}.json").write_text(json.dumps(results, indent=2))
    print_report(results, n=args.n)


if __name__ == "__main__":
    main()
