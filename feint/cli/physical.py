"""``feint physical``: destruction rates under a print-and-photo simulation, a report and a printable sheet."""

from __future__ import annotations

import click

from feint import distributed as fd
from feint.capabilities.physical.measure import MAX_DRAWS
from feint.cli.common import (
    COUNT,
    Bounded,
    batch_size_option,
    data_options,
    device_option,
    load_module_and_data,
    model_options,
    n_inputs_option,
    output_options,
    parse_floats,
    quiet_option,
    resolve_device,
    seed_option,
)


@click.command()
@model_options(
    help="run dir, module:factory or a file.onnx that converts to torch",
    trust_help="load a pickled torch model (runs code from the file)",
)
@data_options(whole_own_data=True)
@click.option("--attacks", default="fgsm,bim,ll_class", show_default=True, help="comma-separated attack names")
@click.option("--eps", default="0.05,0.1", show_default=True, help="comma-separated Linf radii, e.g. 0.05,0.1 or 8/255")
@click.option("--eot", is_flag=True, help="add EOT-PGD (Athalye et al. 2018) and plain PGD with the same steps")
@click.option("--eot-samples", default=8, show_default=True, type=COUNT, help="transformations per EOT step")
@click.option("--eot-steps", default=40, show_default=True, type=COUNT, help="steps of EOT-PGD and its PGD peer")
@click.option(
    "--draws",
    default=2,
    show_default=True,
    type=Bounded(int, low=1, high=MAX_DRAWS),
    help="random transformations per input",
)
@n_inputs_option("measure on")
@click.option("--sheet", "sheet_count", default=24, show_default=True, type=COUNT, help="inputs on the printable sheet")
@seed_option
@batch_size_option(128)
@quiet_option
@output_options("folder for report.json, report.html, sheet.pdf and adversarial.npz")
@device_option
def physical_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    attacks: str,
    eps: str,
    eot: bool,
    eot_samples: int,
    eot_steps: int,
    draws: int,
    n: int | None,
    sheet_count: int,
    seed: int,
    batch_size: int,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Attack, then simulate printing and photographing the adversarial inputs (Kurakin et al. 2016).

    Under torchrun the batches are shared among the ranks; rank 0 alone prints and writes --out."""
    from feint.capabilities.physical.run import physical

    names = tuple(a.strip() for a in attacks.split(",") if a.strip())
    budgets = parse_floats(eps, "--eps") or []
    dev = fd.start(resolve_device(device))

    loaded, dataset = load_module_and_data(
        out, model_spec=model_spec, weights=weights, trust=trust_file, device=dev, data=data, split=split,
        data_path=data_path, n=n, seed=seed,
        why="feint physical runs gradient attacks (FGSM, BIM, least-likely class, EOT-PGD)",
    )  # fmt: skip
    report = physical(
        loaded.module, dataset.x.to(dev), dataset.y.to(dev), attacks=names, eps=budgets, draws=draws, eot=eot,
        eot_samples=eot_samples, eot_steps=eot_steps, sheet=sheet_count, data_info=dataset.info,
        split=dataset.split, model_name=loaded.name, out=out, seed=seed, progress=not quiet, batch_size=batch_size,
    )  # fmt: skip
    if not fd.is_root():
        return
    click.echo(report.summary())
    click.echo(f"sheet: {report.paths['sheet'].resolve()}")
    click.echo(f"report: {report.paths['html'].resolve()}")
