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
fingerprint includes a digest of feint's sources (:func:`feint.capabilities.audit.state.code_digest`), so a
rerun after a code change audits afresh instead of reporting numbers of the old code.
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
