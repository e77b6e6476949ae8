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
    for name in ORDER:
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
    for name in ORDER:
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


def print_report(results: dict[str, Any], *, n: int, thorough: bool) -> None:
    print(f"\nFashion-MNIST, {n} test images, eps 0.1 (accuracy in %):")
    print("\n".join(table(results)))
    fast = results["fast-at"]
    cmd = fast["command"]
    print(
        f"\nfast-at: `feint train --recipe fast-at --data fashion-mnist --adv-eps 0.1` took {cmd['wall'] / 60:.1f} min "
        f"wall ({cmd['cpu'] / 60:.1f} CPU min) including data loading; the standard audit's worst case at eps 0.1 is "
        f"{_pct(fast['audit'])}%"
    )
    curve = fast.get("curve") or []
    if curve:
        print("fast-at robust accuracy (APGD-DLR-10, 500 test images) against training minutes:")
        print("  " + ", ".join(f"{m:.1f} min: {_pct(a)}" for m, a in curve))
    if thorough:
        lines, gap = comparison(results)
        print(f"\nstandard against thorough worst case at eps {results['undefended']['standard']['eps']} (%):")
        print("\n".join(lines))
        print(f"largest gap {gap:.2f} points (target <= 0.5)")
    d = results["distill"]
    print(
        f"\ndistill: FGSM accuracy {_pct(d['fgsm'])}% (clean {_pct(d['clean'])}%), JSMA success (softmax form) "
        f"{_pct(d['jsma']['probs'])}%, (logit form) {_pct(d['jsma']['logits'])}%, standard audit {_pct(d['audit'])}%, "
        f"checks warning: {', '.join(d['standard']['warned']) or 'none'}"
    )
    print("\ntargets:")
    verdicts = {
        "fast-at >= 70% standard worst case at eps 0.1": fast["audit"] >= 0.70,
        "fast-at trained within 5 minutes (wall, command)": cmd["wall"] <= 300,
        "pgd-at at least as robust as fast-at": results["pgd-at"]["audit"] >= fast["audit"],
        "trades at least as robust as fast-at": results["trades"]["audit"] >= fast["audit"],
        "ensemble-at black-box error below goodfellow's (FGSM and MI-FGSM)": all(
            results["ensemble-at"][k] > results["goodfellow"][k] for k in ("blackbox_fgsm", "blackbox_mifgsm")
        ),
        "distill: FGSM and JSMA (softmax) mostly fail": d["jsma"]["probs"] < 0.5 and d["fgsm"] > d["clean"] / 2,
        "distill: the audit breaks it and a check warns": d["audit"] < d["fgsm"] / 2 and bool(d["standard"]["warned"]),
    }
    if thorough:
        verdicts["standard within 0.5 points of thorough at every eps, every model"] = comparison(results)[1] <= 0.5
    for what, ok in verdicts.items():
        print(f"  [{'holds' if ok else 'MISSED'}] {what}")
