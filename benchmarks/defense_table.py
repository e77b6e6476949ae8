"""Printing benchmarks/defenses.py's results: the table, the standard-against-thorough comparison, the targets."""

from __future__ import annotations

from typing import Any

ORDER = ("undefended", "goodfellow", "pgd-at", "fast-at", "trades", "ensemble-at", "distill")


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def table(results: dict[str, Any]) -> list[str]:
    """The README table (markdown): accuracies in % at eps 0.1, training minutes."""
    lines = [
        "| model | clean | FGSM | PGD-50 | standard audit (worst case) | black-box FGSM | black-box MI-FGSM | training min (CPU min) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in (n for n in ORDER if n in results):
        r = results[name]
        minutes = f"{r['train_wall'] / 60:.1f} ({r['train_cpu'] / 60:.1f})"
        lines.append(
            f"| {name} | {_pct(r['clean'])} | {_pct(r['fgsm'])} | {_pct(r['pgd50'])} | {_pct(r['audit'])} "
            f"| {_pct(r['blackbox_fgsm'])} | {_pct(r['blackbox_mifgsm'])} | {minutes} |"
        )
    return lines


def comparison(results: dict[str, Any]) -> tuple[list[str], float]:
    """Standard against thorough worst case at every eps, per model; and the largest gap (points)."""
    lines, worst_gap = [], 0.0
    for name in (n for n in ORDER if n in results):
        r = results[name]
        if "thorough" not in r:
            continue
        std, thr = r["standard"], r["thorough"]
        gaps = [100 * (s - t) for s, t in zip(std["worst_case"], thr["worst_case"], strict=True)]
        worst_gap = max([worst_gap, *(abs(g) for g in gaps)])
        esc = std["escalation"]
        why = "; ".join(sorted({w for reason in esc["reasons"] for w in reason["reasons"]})) or "-"
        lines.append(
            f"{name:12s} std {' '.join(_pct(v).rjust(5) for v in std['worst_case'])} | "
            f"thorough {' '.join(_pct(v).rjust(5) for v in thr['worst_case'])} | max gap {max(map(abs, gaps)):.2f} pt | "
            f"time std {std['seconds']:.0f} s, thorough {thr['seconds']:.0f} s | "
            f"escalated: {'yes' if esc['escalated'] else 'no'} ({why})"
        )
    return lines, worst_gap


def targets(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of issue 11: True (holds), False (missed) or None (not measured in this run)."""
    r = results.get
    fast, d, pgd, trades, ens, good = (
        r(k) for k in ("fast-at", "distill", "pgd-at", "trades", "ensemble-at", "goodfellow")
    )
    both = ("blackbox_fgsm", "blackbox_mifgsm")
    compared = [k for k, v in results.items() if "thorough" in v]
    return {
        "fast-at >= 70% standard worst case at eps 0.1": fast["audit"] >= 0.70 if fast else None,
        "fast-at trained within 5 minutes (wall, command)": fast["command"]["wall"] <= 300 if fast else None,
        "pgd-at at least as robust as fast-at": pgd["audit"] >= fast["audit"] if pgd and fast else None,
        "trades at least as robust as fast-at": trades["audit"] >= fast["audit"] if trades and fast else None,
        "ensemble-at black-box error below goodfellow's (FGSM and MI-FGSM)": (
            all(ens[k] > good[k] for k in both) if ens and good else None
        ),
        "distill: FGSM and JSMA (softmax) mostly fail": (
            d["jsma"]["probs"] < 0.5 and d["fgsm"] > d["clean"] / 2 if d else None
        ),
        "distill: the audit breaks it and a check warns": (
            d["audit"] < d["fgsm"] / 2 and bool(d["standard"]["warned"]) if d else None
        ),
        f"standard within 0.5 points of thorough at every eps ({', '.join(compared) or 'no model'} compared)": (
            comparison(results)[1] <= 0.5 if compared else None
        ),
    }


def print_report(results: dict[str, Any], *, n: int) -> None:
    missing = [m for m in ORDER if m not in results]
    print(f"\nFashion-MNIST, the first {n} test images, eps 0.1 (accuracy in %):")
    print("\n".join(table(results)))
    if missing:
        print(f"not measured in this run: {', '.join(missing)}")
    fast = results.get("fast-at")
    if fast:
        cmd = fast["command"]
        print(
            f"\nfast-at: `feint train --recipe fast-at --data fashion-mnist --adv-eps 0.1` took {cmd['wall'] / 60:.1f} "
            f"min wall ({cmd['cpu'] / 60:.1f} CPU min) including data loading; the standard audit's worst case at "
            f"eps 0.1 is {_pct(fast['audit'])}%"
        )
        print("fast-at robust accuracy (APGD-DLR-10, 500 test images) against training minutes:")
        print("  " + ", ".join(f"{m:.1f} min: {_pct(a)}" for m, a in fast["curve"]))
    lines, gap = comparison(results)
    if lines:
        eps = next(v for v in results.values() if "thorough" in v)["standard"]["eps"]
        print(f"\nstandard against thorough worst case at eps {eps} (%):")
        print("\n".join(lines))
        print(f"largest gap {gap:.2f} points (target <= 0.5)")
    d = results.get("distill")
    if d:
        print(
            f"\ndistill: FGSM accuracy {_pct(d['fgsm'])}% (clean {_pct(d['clean'])}%), JSMA success (softmax form) "
            f"{_pct(d['jsma']['probs'])}%, (logit form) {_pct(d['jsma']['logits'])}%, standard audit "
            f"{_pct(d['audit'])}%, checks warning: {', '.join(d['standard']['warned']) or 'none'}"
        )
    print("\ntargets:")
    for what, ok in targets(results).items():
        print(f"  [{'not measured' if ok is None else 'holds' if ok else 'MISSED'}] {what}")
