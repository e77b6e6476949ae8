"""``feint train``: train a registered architecture on a dataset, optionally with a defense recipe.

Resumable (``--resume``), saved as a run directory whose ``config.json`` records every setting,
the recipe's included. A recipe option given to a recipe that does not take it is refused before
anything trains.
"""

from __future__ import annotations

from typing import Any

import click

from feint import distributed as fd
from feint.cli.common import (
    data_options,
    device_option,
    load_data,
    output_options,
    parse_params,
    quiet_option,
    resolve_device,
    seed_option,
)
from feint.errors import InputError
from feint.io import check_writable
from feint.training import train

# Command-line flag of each recipe option that has one; the rest go through --recipe-param.
FLAGS = {
    "eps": "--adv-eps",
    "alpha": "--adv-alpha",
    "attack": "--adv",
    "attack_params": "--adv-param",
    "steps": "--steps",
    "step_size": "--step-size",
    "beta": "--beta",
    "sources": "--sources",
    "method": "--method",
    "temperature": "--temperature",
    "teacher_epochs": "--teacher-epochs",
}


def recipe_options(recipe: str | None, given: dict[str, Any], params: tuple[str, ...]) -> dict[str, Any]:
    """The recipe's options from the flags given (None: not given) and ``--recipe-param k=v``; one
    clear error for a flag the recipe does not take."""
    from feint.defenses.base import option_names

    options = {k: v for k, v in given.items() if v is not None}
    options.update(parse_params(params))
    if recipe is None:
        if options:
            flags = ", ".join(FLAGS.get(k, f"--recipe-param {k}=...") for k in options)
            raise InputError(
                f"{flags} set options of a defense recipe; choose one with --recipe (e.g. --recipe pgd-at)"
            )
        return {}
    takes = option_names(recipe)
    for key in options:
        if key not in takes:
            theirs = ", ".join(FLAGS.get(k, f"--recipe-param {k}=...") for k in takes)
            raise InputError(
                f"{FLAGS.get(key, f'--recipe-param {key}')} does not apply to recipe {recipe!r}; its options are {theirs}"
            )
    return options


def _sources(text: str | None) -> list[str] | None:
    return None if text is None else [s for s in (p.strip() for p in text.split(",")) if s]


@click.command()
@data_options(split=False)
@click.option(
    "--recipe",
    default=None,
    help="defense: goodfellow, pgd-at, fast-at, trades, ensemble-at, distill, gaussian-noise or smooth-adv (randomized smoothing)",
)
@click.option(
    "--arch",
    default=None,
    help="softmax, mlp, lenet, convnet, maxout or resnet [default: convnet with a recipe, else lenet]",
)
@click.option("--epochs", default=None, type=int, help="[default: the recipe's, else 10]")
@click.option("--batch-size", default=None, type=int, help="[default: the recipe's, else 64]")
@click.option("--lr", default=None, type=float, help="(peak) learning rate [default: the recipe's, else 0.001]")
@click.option("--optimizer", default=None, help="adam or sgd [default: the recipe's, else adam]")
@seed_option
@click.option("--adv-eps", default=None, type=float, help="radius the recipe trains against (Linf) [default: 0.1]")
@click.option("--adv-alpha", default=None, type=float, help="goodfellow: weight of the clean loss [default: 0.5]")
@click.option(
    "--adv", default=None, help="goodfellow: attack making its examples [default: fgsm]; implies --recipe goodfellow"
)
@click.option("--adv-param", "adv_params", multiple=True, help="goodfellow: option key=value of --adv, repeatable")
@click.option("--steps", default=None, type=int, help="pgd-at, trades: inner-maximisation steps [default: 10]")
@click.option("--step-size", default=None, type=float, help="pgd-at, fast-at, trades: inner step size")
@click.option("--beta", default=None, type=float, help="trades: weight of the robustness term [default: 6]")
@click.option("--sources", default=None, help="ensemble-at: 2-5 static source runs, comma-separated (runs/a,runs/b)")
@click.option("--method", default=None, help="ensemble-at: fgsm, rand-fgsm or step-ll [default: fgsm]")
@click.option("--temperature", default=None, type=float, help="distill: softmax temperature T [default: 100]")
@click.option("--teacher-epochs", default=None, type=int, help="distill: teacher's epochs [default: --epochs]")
@click.option("--recipe-param", "recipe_params", multiple=True, help="any other recipe option key=value")
@click.option(
    "--robust-eps", default=None, type=float, help="eps of the per-epoch robust accuracy [default: the recipe's]"
)
@output_options(
    "run directory (config.json, weights.safetensors, checkpoints)",
    overwrite="train afresh over a run already in --out",
)
@click.option("--resume", is_flag=True, help="continue from the last checkpoint in --out")
@quiet_option
@device_option
def train_command(
    data: str,
    data_path: str | None,
    recipe: str | None,
    arch: str | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    seed: int,
    adv: str | None,
    adv_params: tuple[str, ...],
    sources: str | None,
    recipe_params: tuple[str, ...],
    robust_eps: float | None,
    out: str,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    device: str,
    **flags: Any,
) -> None:
    """Train a model; print the clean and robust test accuracy at the end.

    Under ``torchrun --nproc-per-node K -m feint train ...`` it trains with DistributedDataParallel,
    every recipe included: ``--batch-size`` per rank, ``--out`` on a folder every rank shares, rank 0 writes.
    """
    from feint.defenses.base import get_recipe_class

    dev = fd.start(resolve_device(device))
    with fd.together("checking the settings and loading the data"):
        check_writable(out, folder=True)
        if adv is not None and recipe is None:
            recipe = "goodfellow"
        given = {"attack": adv, "attack_params": parse_params(adv_params) or None, "sources": _sources(sources)}
        given |= {"eps": flags.pop("adv_eps"), "alpha": flags.pop("adv_alpha"), **flags}
        cls = get_recipe_class(recipe) if recipe is not None else None
        options = recipe_options(recipe, given, recipe_params)
        arch_kwargs: dict[str, Any] | None = None
        if arch is None:
            arch, arch_kwargs = cls.default_arch if cls is not None else ("lenet", {})
        train_data = load_data(data, "train", data_path)
        test_data = load_data(data, "test", data_path)
    result = train(
        arch,
        train_data,
        test_data,
        arch_kwargs=arch_kwargs or None,
        out=out,
        resume=resume,
        overwrite=overwrite,
        device=dev,
        progress=not quiet,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        seed=seed,
        recipe=recipe,
        recipe_options=options,
        robust_eps=robust_eps,
    )
    if not fd.is_root():
        return
    last = result.history[-1] if result.history else {}
    click.echo(f"clean test accuracy: {result.test_accuracy:.4f}")
    if "robust_accuracy" in last:
        click.echo(
            f"robust test accuracy: {last['robust_accuracy']:.4f} (APGD-DLR, eps {last['robust_eps']:g}; audit it for the real figure)"
        )
    if any(h.get("collapsed") for h in result.history):
        click.echo("the guard caught catastrophic overfitting: the model is the last good epoch's")
    if recipe == "distill":
        from feint.defenses.distill import student_gap

        gap = student_gap(out, result.test_accuracy)
        if gap is not None:
            click.echo(f"warning: {gap}", err=True)
    click.echo(f"model saved to {out}")
