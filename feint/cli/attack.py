"""``feint attack``: run one registered attack on a model and a dataset, save the adversarial inputs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click
import numpy as np
import torch

from feint.attacks.registry import ATTACKS, AttackSpec, get_attack, run_attack
from feint.attacks.result import AttackResult, joined, light, predict_logits
from feint.attacks.sweep import sweep
from feint.cli.common import (
    COUNT,
    RefusedOption,
    batch_size_option,
    check_model_fits_data,
    data_options,
    device_option,
    model_options,
    n_inputs_option,
    on_bad_file_option,
    open_data,
    output_options,
    parse_floats,
    parse_params,
    preview,
    resolve_device,
    seed_option,
)
from feint.data import Dataset, Source
from feint.data.npz_writer import NpzWriter
from feint.data.stream import DEFAULT_BATCH as DEFAULT_STREAM_BATCH
from feint.errors import DataError, InputError
from feint.io import check_writable
from feint.models import LoadedModel, resolve
from feint.oracles import Oracle

TARGET_MODES = ("random", "least-likely", "next")


def _targets(mode: str, model: torch.nn.Module | Oracle, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
    from feint.attacks import targets

    num_classes = int(predict_logits(model, x[:1]).shape[1])
    if mode == "random":
        return targets.random_targets(y, num_classes, seed=seed)
    if mode == "least-likely":
        if isinstance(model, Oracle):
            raise InputError("--targeted least-likely needs the model's logits; use random or next")
        return targets.least_likely_targets(model, x)
    return targets.next_class_targets(y, num_classes)


def _list_attacks(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Print every registered attack with its summary and documented defaults, then exit."""
    if not value or ctx.resilient_parsing:
        return
    from feint.attacks.registry import ATTACKS

    for name in sorted(ATTACKS):
        spec = ATTACKS[name]
        options = ", ".join(f"{k}={v!r}" for k, v in spec.parameters().items() if k not in ("target", "targeted"))
        kind = "minimum-norm" if spec.minimum_norm else "norms " + "/".join(spec.norms)
        kind += "" if spec.access == "white-box" else f", {spec.access} only"
        click.echo(f"{name:12s} {spec.summary}\n{'':12s} [{kind}] {options}")
    ctx.exit(0)


@click.command()
@click.option(
    "--list", is_flag=True, expose_value=False, is_eager=True, callback=_list_attacks, help="list the attacks and exit"
)
@model_options()
@data_options(whole_own_data=True)
@click.option("--attack", "attack_name", default="fgsm", show_default=True, help="attack name (see --list)")
@click.option("--eps", default=None, help="perturbation size(s) in input units: 0.1 or 0.05,0.1,8/255")
@click.option(
    "--norm",
    default=None,
    help="threat-model norm, e.g. inf or 2 (default: the attack's own, see --list; needed with --eps where that is not inf)",
)
@click.option("--param", "params", multiple=True, help="attack option key=value, repeatable (e.g. steps=20)")
@click.option("--targeted", type=click.Choice(TARGET_MODES), default=None, help="attack towards these targets")
@n_inputs_option("attack")
@click.option(
    "--queries-per-input", "max_queries", default=None, type=COUNT, help="query budget per input of a black-box attack"
)
@click.option(
    "--max-queries",
    "refused_max_queries",
    cls=RefusedOption,
    refusal="feint attack's query budget is per input: use --queries-per-input N "
    "(--max-queries is a run's total budget in feint audit, blackbox and fool)",
)
@seed_option
@batch_size_option(
    None,
    "inputs attacked together, each batch with its own seed (seed + batch number) [default: all at once; "
    f"a folder: {DEFAULT_STREAM_BATCH}]",
)
@on_bad_file_option
@output_options("write x, x_adv, y, prediction and success to this .npz", required=False)
@device_option
def attack_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    attack_name: str,
    eps: str | None,
    norm: str | None,
    params: tuple[str, ...],
    targeted: str | None,
    n: int | None,
    max_queries: int | None,
    seed: int,
    batch_size: int | None,
    on_bad_file: str,
    out: str | None,
    device: str,
) -> None:
    """Attack a model; print clean and adversarial accuracy and the mean confidence of the fooled inputs.

    With several ``--eps`` (or a minimum-norm attack such as fmn, answered from one run) it prints
    one row per eps.
    """
    if out is not None and not out.endswith(".npz"):
        raise InputError(f"--out {out!r} must end in .npz")
    if out is not None:
        check_writable(out, folder=False)
    spec = get_attack(attack_name)
    options = _options(spec, parse_params(params), eps=eps, norm=norm, targeted=targeted)
    norm_used = str(options.get("norm", spec.parameters().get("norm", spec.norms[0])))
    budgets = parse_floats(eps, "--eps")
    dev = resolve_device(device)
    loaded = resolve(model_spec, weights=weights, device=str(dev), trust=trust_file)
    _check_access(loaded, spec)
    model = loaded.target
    dataset = open_data(data, split, data_path, n, seed, on_bad_file)
    check_model_fits_data(loaded.config, preview(dataset), model_spec, loaded.target)
    if max_queries is not None:
        budget = next((k for k in ("max_queries", "n_queries") if k in spec.parameters()), None)
        if budget is None:
            raise InputError(f"--queries-per-input sets a black-box attack's budget; {spec.name!r} has none")
        options[budget] = max_queries
    click.echo(f"model: {loaded.spec}, {loaded.describe()}")
    click.echo(f"attack: {attack_name} under the {norm_label(norm_used)} norm  inputs: {len(dataset)}")
    writer = NpzWriter() if out is not None else None
    parts: list[list[tuple[float | None, AttackResult]]] = []
    correct = 0
    for b, (xb, yb) in enumerate(_batches(dataset, batch_size)):
        x, y = xb.to(dev), yb.to(dev)
        runs = _attack_batch(spec, model, x, y, dict(options), budgets, targeted, seed + b)
        correct += int((predict_logits(model, x).argmax(1) == y).sum())
        if writer is not None:
            result = runs[-1][1]
            writer.append(
                x=result.x.cpu().numpy(),
                x_adv=result.x_adv.cpu().numpy(),
                y=y.cpu().numpy(),
                adv_pred=result.adv_pred.cpu().numpy(),
                success=result.success.cpu().numpy(),
            )
        parts.append([(e, light(r)) for e, r in runs])
    if not parts:
        raise DataError(f"no input of {data} could be read (every file was skipped); check the files")
    runs = [(e, joined([p[i][1] for p in parts])) for i, (e, _) in enumerate(parts[0])]
    click.echo(f"clean accuracy:       {correct / len(runs[0][1].y):.4f}")
    if len(runs) == 1:
        _print_one(runs[0][1], targeted is not None)
    else:
        _print_table(runs, targeted is not None)
    if writer is not None and out is not None:
        last_eps, result = runs[-1]
        writer.save(out, eps=np.asarray(result.threat.eps if last_eps is None else last_eps))
        click.echo(f"adversarial inputs saved to {out}")
    if isinstance(dataset, Source) and dataset.skipped.note():
        click.echo(f"data: {dataset.skipped.note()}")
    sent = getattr(loaded.oracle, "rows_sent", None)
    if sent is not None:
        click.echo(f"rows sent to the server (attack, clean check and retries): {sent}")


def _batches(data: Dataset | Source, batch_size: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A loaded dataset in batches of ``batch_size`` (all at once by default); a stream batch by batch."""
    if isinstance(data, Source):
        yield from data.batches(batch_size or DEFAULT_STREAM_BATCH)
        return
    step = batch_size or len(data)
    for i in range(0, len(data), step):
        yield data.x[i : i + step], data.y[i : i + step]


def _attack_batch(
    spec: AttackSpec,
    model: torch.nn.Module | Oracle,
    x: torch.Tensor,
    y: torch.Tensor,
    options: dict[str, Any],
    budgets: list[float] | None,
    targeted: str | None,
    seed: int,
) -> list[tuple[float | None, AttackResult]]:
    """The attack (at every budget) on one batch, with the batch's seed and targets."""
    if "seed" in spec.parameters():
        options.setdefault("seed", seed)
    if targeted is not None:
        options.update(targeted=True, target=_targets(targeted, model, x, y, seed))
        if "starts" in spec.parameters():
            options["starts"] = _starts(options["target"], x, y)
    if budgets is None:
        return [(None, run_attack(spec.name, model, x, y, **options))]
    swept = sweep(spec.name, model, x, y, eps=budgets, progress=sys.stderr.isatty(), **options)
    return list(zip(swept.eps, swept.results, strict=True))


def _check_access(loaded: LoadedModel, spec: AttackSpec) -> None:
    """A white-box attack needs a module; a score-based one needs scores."""
    if spec.access == loaded.access or spec.access == "labels" or loaded.access == "white-box":
        return
    black_box = sorted(name for name, s in ATTACKS.items() if s.access == "labels" or loaded.access == s.access)
    raise InputError(
        f"{spec.name} needs {spec.access} access but {loaded.spec} gives {loaded.describe()}; "
        f"use --attack {' or '.join(black_box)}"
    )


def _starts(target: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """A start of each target class for a decision-based attack: an input of that class from the data."""
    first = {int(c): int((y == c).nonzero()[0, 0]) for c in y.unique()}
    if not all(int(t) in first for t in target):
        return None
    return x[torch.tensor([first[int(t)] for t in target], device=x.device)]


def _options(
    spec: AttackSpec, options: dict[str, Any], *, eps: str | None, norm: str | None, targeted: str | None
) -> dict[str, Any]:
    """The ``--param`` options, refusing those that a dedicated option sets (each setting is given once)."""
    for key, option in (("eps", eps), ("norm", norm), ("targeted", targeted)):
        if key in options and option is not None:
            raise InputError(f"--param {key}=... and --{key} both set {key}; give it once, as --{key}")
    if "target" in options:
        raise InputError("--param target=... cannot name target labels; use --targeted random|least-likely|next")
    if options.get("targeted") is True:
        raise InputError("--param targeted=true needs target labels; use --targeted random|least-likely|next")
    own = str(options.get("norm", spec.parameters().get("norm", spec.norms[0])))
    if norm is not None:
        if "norm" not in spec.parameters():
            if norm_label(norm) == norm_label(own):  # naming the one norm it has confirms it
                return options
            raise InputError(f"attack {spec.name!r} has a fixed norm ({'/'.join(spec.norms)}); drop --norm")
        options["norm"] = norm
    elif eps is not None and "norm" not in options and norm_label(own) != "Linf":
        # every other attack reads --eps as an Linf radius: say which one is meant rather than guess
        raise InputError(
            f"{spec.name} runs under the {norm_label(own)} norm by default, where the other attacks take --eps as an "
            f"Linf radius; add --norm {own} to keep {norm_label(own)}"
            + (" or --norm inf for an Linf radius" if "inf" in spec.norms and "norm" in spec.parameters() else "")
        )
    return options


def norm_label(norm: str | float) -> str:
    """``"inf"`` -> ``"Linf"``, ``"2"`` -> ``"L2"``, ``"0"`` -> ``"L0"``."""
    text = str(norm).strip().lower().removesuffix(".0")
    return "Linf" if text in ("inf", "linf") else f"L{text.removeprefix('l')}"


def _print_one(result: AttackResult, targeted: bool) -> None:
    from feint.measure.metrics import goodfellow_row

    error_rate, confidence = goodfellow_row(result.adv_logits, result.y)
    click.echo(f"adversarial accuracy: {1 - error_rate:.4f}")
    shown = "not revealed (label-only access)" if result.access == "labels" else f"{confidence:.4f}"
    click.echo(f"mean confidence on misclassified adversarial inputs: {shown}")
    if targeted:
        click.echo(f"targets reached: {result.success_rate:.4f}")
    click.echo(f"median perturbation ({result.threat.norm} norm): {float(result.distance.median()):.4f}")
    click.echo(f"queries: {result.queries}")


def _print_table(runs: list[tuple[float | None, AttackResult]], targeted: bool) -> None:
    from feint.measure.metrics import goodfellow_row

    extra = "  targets reached" if targeted else ""
    click.echo(f"{'eps':>8}  adversarial accuracy  mean confidence (misclassified)  queries{extra}")
    for budget, result in runs:
        error_rate, confidence = goodfellow_row(result.adv_logits, result.y)
        line = f"{budget:>8.4g}  {1 - error_rate:>20.4f}  {confidence:>31.4f}  {result.queries:>7d}"
        click.echo(line + (f"  {result.success_rate:>15.4f}" if targeted else ""))
