"""``feint transfer``: transferability between two models (``--source A --target B``) or across
techniques (``--matrix``); report.json + report.html in ``--out``."""

from __future__ import annotations

from pathlib import Path

import click

from feint import distributed as fd
from feint.attacks.registry import get_attack
from feint.capabilities.transfer.pair import MAX_STEPS
from feint.cli.common import (
    batch_size_option,
    check_model_fits_data,
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
    seed_option,
)
from feint.cli.targets import target_options
from feint.errors import DistributedError, InputError
from feint.io import prepare_out


def _steps(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise InputError(f"--steps {text!r} is not a comma-separated list of whole numbers (e.g. 1,2,5,10)") from exc
    if not counts or not 1 <= min(counts) <= max(counts) <= MAX_STEPS:
        raise InputError(f"--steps {text!r} must list step counts from 1 to {MAX_STEPS:,} (e.g. 1,2,5,10)")
    return counts


@click.command()
@click.option("--matrix", is_flag=True, help="the cross-technique matrix instead of one source and one target")
@click.option(
    "--source",
    "source_spec",
    default=None,
    help="the model examples are crafted on (white-box): a run directory or package.module:factory",
)
@click.option("--source-weights", default=None, help="safetensors weights for a package.module:factory source")
@target_options(weights="--target-weights", required=False)
@data_options()
@click.option("--attack", "attack_name", default="ifgsm", show_default=True, help="iterative attack with eta = eps / T")
@click.option("--steps", default="1,2,5,10", show_default=True, help="step counts T to compare")
@click.option("--eps", default=None, help="comma-separated Linf radii (default: the dataset's grid; --matrix: 0.3)")
@click.option("--targeted", is_flag=True, help="aim at random wrong classes and report targeted success")
@click.option("--param", "params", multiple=True, help="attack option key=value, repeatable")
@click.option(
    "--techniques", default="dnn,lr,svm,dt,knn,ens", show_default=True, help="--matrix: techniques to compare"
)
@click.option("--dnn-arch", default="lenet", show_default=True, help="--matrix: the DNN's feint architecture")
@batch_size_option(
    256, help="--matrix: held-out inputs crafted and labelled together (under torchrun shared among the ranks)"
)
@n_inputs_option("use")
@seed_option
@quiet_option
@output_options("folder for report.json and report.html")
@device_option
def transfer_command(
    matrix: bool,
    source_spec: str | None,
    source_weights: str | None,
    target_spec: str | None,
    target_weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    attack_name: str,
    steps: str,
    eps: str | None,
    targeted: bool,
    params: tuple[str, ...],
    techniques: str,
    dnn_arch: str,
    batch_size: int,
    n: int | None,
    seed: int,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Measure how adversarial examples transfer; print a summary and write the report.

    Under torchrun (--matrix only) the held-out inputs' batches are shared among the ranks; every
    rank fits the same models; rank 0 alone prints and writes --out."""
    if fd.launched() and not matrix:
        raise DistributedError(
            "feint transfer --source/--target does not share its work among torchrun's ranks; run it without "
            "torchrun, or use --matrix"
        )
    if not fd.launched():
        prepare_out(out)
    dev = fd.start(resolve_device(device))
    radii = parse_floats(eps, "--eps")  # None: the function's default
    if matrix:
        if source_spec or target_spec:
            raise InputError("--matrix trains its own models; drop --source and --target")
        from feint.capabilities.transfer.matrix import DEFAULT_EPS, transfer_matrix
        from feint.capabilities.transfer.techniques import TechniqueSettings, parse_techniques

        names = parse_techniques(techniques)
        settings = TechniqueSettings(dnn_arch=dnn_arch, seed=seed)
        if radii and len(radii) != 1:
            raise InputError(f"--matrix takes one eps, got {len(radii)}; run it once per eps")
        train_data, test_data = load_together(
            "loading the data",
            out,
            lambda: (load_data(data, "train", data_path), load_data(data, split, data_path, n, seed)),
        )
        report = transfer_matrix(
            train_data,
            test_data,
            techniques=names,
            eps=radii[0] if radii else DEFAULT_EPS,
            settings=settings,
            out=out,
            seed=seed,
            device=dev,
            progress=not quiet,
            batch_size=batch_size,
        )
        if not fd.is_root():
            return
    else:
        if not source_spec or not target_spec:
            raise InputError("give --source and --target (two models), or --matrix for the cross-technique study")
        from feint.capabilities.transfer.pair import transfer
        from feint.cli.targets import target_oracle
        from feint.models import resolve_model

        step_counts = _steps(steps)
        get_attack(attack_name)
        dataset = load_data(data, split, data_path, n, seed)
        source, config = resolve_model(source_spec, weights=source_weights, device=str(dev))
        check_model_fits_data(config, dataset, source_spec, source)
        oracle, target_name = target_oracle(target_spec, target_weights, dataset, dev, trust=trust_file)
        report = transfer(
            source,
            oracle,
            dataset,
            attack=attack_name,
            steps=step_counts,
            eps=radii or None,
            targeted=targeted,
            params=parse_params(params),
            source_name=Path(source_spec).name if config else source_spec,
            target_name=target_name,
            out=out,
            seed=seed,
            device=dev,
            progress=not quiet,
        )
    click.echo(report.summary())
    click.echo(f"report: {Path(report.html_path or out).resolve()}")
