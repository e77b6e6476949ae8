"""``feint blackbox``: the substitute attack against a label-only target; report.json + report.html in ``--out``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from feint import distributed as fd
from feint.cli.common import (
    COUNT,
    Bounded,
    batch_size_option,
    data_options,
    device_option,
    load_data,
    load_together,
    n_inputs_option,
    output_options,
    parse_floats,
    parse_params,
    quiet_option,
    resolve_device,
    resume_option,
    seed_option,
)
from feint.cli.targets import held_out_split, target_options, target_oracle


@click.command()
@target_options(weights="--weights", required=True)
@data_options(split=False)
@click.option(
    "--seed-size",
    default=150,
    show_default=True,
    type=COUNT,
    help="|S0|: held-out test inputs the attacker starts from",
)
@n_inputs_option("measure on", help="measure on N other held-out test inputs (default: all the rest)")
@click.option(
    "--substitute",
    default="lenet",
    show_default=True,
    help="the substitute's architecture (softmax, mlp, lenet, maxout, resnet)",
)
@click.option(
    "--rounds", default=6, show_default=True, type=COUNT, help="substitute training rounds (rounds - 1 augmentations)"
)
@click.option(
    "--lambda", "lam", default=0.1, show_default=True, type=Bounded(low=0, low_open=True), help="the augmentation step"
)
@click.option(
    "--tau",
    default=3,
    show_default=True,
    type=Bounded(int, low=0),
    help="the step changes sign every tau rounds; 0: never",
)
@click.option(
    "--sigma",
    default=None,
    type=Bounded(int, low=0),
    help="reservoir sampling from this augmentation on (default: off)",
)
@click.option(
    "--kappa", default=400, show_default=True, type=COUNT, help="points augmented per round under reservoir sampling"
)
@click.option("--epochs", default=10, show_default=True, type=COUNT, help="substitute training epochs per round")
@click.option(
    "--max-queries", default=None, type=COUNT, help="total oracle queries for training the substitute (exact)"
)
@click.option(
    "--attack",
    "attack_name",
    default="fgsm",
    show_default=True,
    help="white-box attack on the substitute (fgsm, pgd, mifgsm, ...)",
)
@click.option("--eps", default="0.3", show_default=True, help="comma-separated Linf radii, e.g. 0.1,0.3")
@click.option("--param", "params", multiple=True, help="attack option key=value, repeatable (e.g. steps=20)")
@seed_option
@batch_size_option(256)
@resume_option("blackbox_state")
@quiet_option
@output_options("folder for report.json, report.html, substitute/ and the resumable state")
@device_option
def blackbox_command(
    target_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    seed_size: int,
    n: int | None,
    substitute: str,
    rounds: int,
    lam: float,
    tau: int,
    sigma: int | None,
    kappa: int,
    epochs: int,
    max_queries: int | None,
    attack_name: str,
    eps: str,
    params: tuple[str, ...],
    seed: int,
    batch_size: int,
    resume: bool,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Train a substitute of the target from its labels (Papernot et al. 2017), attack the substitute
    and measure how often the target is fooled; print a summary and write the report.

    Under torchrun the held-out inputs' batches are shared among the ranks (labelling and
    measuring); rank 0 alone trains the substitute, prints and writes --out."""
    from feint.attacks.registry import get_attack
    from feint.capabilities.blackbox.run import blackbox
    from feint.training.substitute import SubstituteConfig, check_seed_budget

    config = SubstituteConfig(
        arch=substitute,
        rounds=rounds,
        lam=lam,
        tau=tau or None,
        sigma=sigma,
        kappa=kappa,
        epochs=epochs,
        max_queries=max_queries,
        seed=seed,
    )
    check_seed_budget(seed_size, max_queries)
    get_attack(attack_name)
    budgets = parse_floats(eps, "--eps") or []
    dev = fd.start(resolve_device(device))

    def load() -> tuple[Any, ...]:
        dataset = load_data(data, "test", data_path)
        oracle, name = target_oracle(target_spec, weights, dataset, dev, trust=trust_file)
        return (oracle, name, *held_out_split(dataset, seed_size, n, seed))

    oracle, name, seeds, held_out = load_together("loading the target and the data", out, load)
    report = blackbox(
        oracle,
        seeds.x,
        held_out,
        eps=budgets,
        attack=attack_name,
        attack_params=parse_params(params),
        config=config,
        target_name=name,
        resume=resume,
        out=out,
        seed=seed,
        device=dev,
        progress=not quiet,
        batch_size=batch_size,
    )
    if not fd.is_root():
        return
    click.echo(report.summary())
    click.echo(f"substitute: {Path(out, 'substitute').resolve()}")
    click.echo(f"report: {Path(report.html_path or out).resolve()}")
