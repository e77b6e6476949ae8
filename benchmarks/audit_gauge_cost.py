"""Benchmark: what the standard audit's late gauge costs on a model where nothing warns.

The late gauge (``feint.capabilities.audit.escalate``: APGD-CE still breaking inputs in the second half of its
iterations) is read from a clock APGD keeps while it runs, so on a model where no check warns and no
gauge fires the standard audit should cost what it cost before the gauge existed. On a plain LeNet
trained on the digits data and its first 200 test images (the model and data of the test suite's
"no escalation on a plain model"; on all 360 the gain gauge fires at eps 0.1) and,
with ``--fashion``, on benchmarks/audit_speed.py's plain Fashion-MNIST model when nothing fires on
it, the script times the standard preset against the standard preset as it was before the late
gauge (no gauge on APGD-CE, no APGD-CE rung, no rung that opens on it), interleaved, in one run, and
checks that neither escalated and that both report the same worst case.

    python benchmarks/audit_gauge_cost.py [--repeats 5] [--threads 1] [--digits-n 200] [--fashion [--n 1000]]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

What the standard audit's late gauge costs where nothing
warns — the standard preset against the standard as it was before the gauge, interleaved, on
models where neither escalates (the digits LeNet; with `--fashion`, audit_speed.py's plain model
when nothing fires on it); figures under Defenses.

Cost where nothing warns (`python benchmarks/audit_gauge_cost.py --repeats 5 --threads 1`): the
gauge is read from a clock APGD keeps while it runs, so an audit on which nothing fires runs the
same attacks as before it. On the digits LeNet of the test suite (its 200 test images, eps 0 /
0.1 / 0.2 / 0.3), where neither version escalates and both report the same worst case, the
standard audit with the gauge against the standard as it was before it (no late gauge, no
APGD-CE rung), interleaved: time ratio **0.994** (median of 5: 0.970-1.030; 0.78 s per audit).
On Fashion-MNIST no model measured here is one where nothing fires: every model of the table
and audit_speed.py's plain one escalated (the late gauge fires on all of them but distill), so
there the standard costs more than the fixed budget — by design, since its evaluation had not
converged — and, in the table's run, less than thorough on six of seven models.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from attack_speed import keep_freed_memory, timed_repeats
from torch import nn

import feint
from feint.capabilities.audit.presets import Preset, get_preset
from feint.data import Dataset, load
from feint.errors import FeintError
from feint.measure.defaults import default_eps
from feint.models import load_config, load_model

CACHE = Path(__file__).resolve().parent / ".cache"


def before_late_gauge() -> Preset:
    """The standard preset without the late gauge and the rungs it brought."""
    standard = get_preset("standard")
    attacks = tuple(replace(p, gauge="") if p.gauge == "late" else p for p in standard.attacks)
    ladder = tuple(replace(p, opens_on=()) for p in standard.escalation if p.key != "apgd-ce x3")
    return replace(standard, attacks=attacks, escalation=ladder)


def digits_lenet(n: int) -> tuple[nn.Module, Dataset, tuple[float, ...]]:
    """The test suite's plain digits LeNet (12 epochs, lr 3e-3, seed 0), the first ``n`` test images
    (the test audits 200) and its eps grid."""
    model = feint.train("lenet", load("digits", "train"), epochs=12, lr=3e-3, seed=0, progress=False).model
    return model, load("digits", "test").head(n), (0.0, 0.1, 0.2, 0.3)


def fashion_plain(n: int) -> tuple[nn.Module, Dataset, tuple[float, ...]] | None:
    """benchmarks/audit_speed.py's plain model, when cached there."""
    folder = CACHE / "plain-20000-4"
    try:
        load_config(folder)
    except FeintError:
        print(f"no cached plain model in {folder}: run benchmarks/audit_speed.py first")
        return None
    return load_model(folder), load("fashion-mnist", "test").head(n), default_eps("fashion-mnist")


def measure(name: str, model: nn.Module, data: Dataset, eps: tuple[float, ...], repeats: int) -> None:
    presets = {"before the late gauge": before_late_gauge(), "standard (with it)": get_preset("standard")}
    reports = {
        k: feint.audit(model, data.x, data.y, eps=eps, preset=p, data_info=data.info, progress=False).to_dict()
        for k, p in presets.items()
    }
    print(f"\n{name}: {len(data)} test images, eps {', '.join(f'{e:g}' for e in eps)}")
    for k, d in reports.items():
        esc = d["escalation"]
        where = "; ".join(f"eps {r['eps']:g}: {', '.join(r['triggers'])}" for r in esc["reasons"]) or "nothing fired"
        print(f"  {k}: worst case {d['worst_case']['accuracy']}, escalated: {esc['escalated']} ({where})")
    if any(d["escalation"]["escalated"] for d in reports.values()):
        print("  something fired on this model: it is not a model where nothing warns; no timing")
        return
    same = len({tuple(d["worst_case"]["accuracy"]) for d in reports.values()}) == 1
    runs = {
        k: (lambda p=p: feint.audit(model, data.x, data.y, eps=eps, preset=p, data_info=data.info, progress=False))
        for k, p in presets.items()
    }
    times = timed_repeats(runs, repeats)
    before, after = times["before the late gauge"], times["standard (with it)"]
    ratios = sorted(a / b for a, b in zip(after, before, strict=True))
    print(f"  same worst case: {same}")
    print(f"  seconds per audit, before: {', '.join(f'{t:.2f}' for t in before)}")
    print(f"  seconds per audit, with the gauge: {', '.join(f'{t:.2f}' for t in after)}")
    print(
        f"  time ratio with / before: median {ratios[len(ratios) // 2]:.3f} (all: {', '.join(f'{r:.3f}' for r in ratios)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--fashion", action="store_true", help="also audit_speed.py's plain Fashion-MNIST model")
    parser.add_argument("--n", type=int, default=1000, help="Fashion-MNIST test images")
    parser.add_argument("--digits-n", type=int, default=200, help="digits test images (the test's 200)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    measure("digits LeNet", *digits_lenet(args.digits_n), args.repeats)
    if args.fashion and (plain := fashion_plain(args.n)) is not None:
        measure("Fashion-MNIST plain LeNet (audit_speed.py)", *plain, args.repeats)


if __name__ == "__main__":
    main()
