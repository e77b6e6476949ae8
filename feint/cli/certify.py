"""``feint certify``: randomized smoothing certificates of a saved model, report.json + report.html in ``--out``.

The option for the estimation draws is ``--n-samples``, not the paper's ``n``: an option ``--n``
would abbreviate torchrun's own options (see :mod:`feint.cli.common`) and already means
``--n-inputs`` in every command.
"""

from __future__ import annotations

import click

from feint.cli.common import (
    COUNT,
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
    resume_option,
    seed_option,
)
from feint.measure.certified import DEFAULT_RADII


@click.command()
@model_options(help="run dir, module:factory or a file.onnx that converts to torch: the base classifier")
@data_options(whole_own_data=True)
@n_inputs_option("certify")
@click.option("--sigma", required=True, type=float, help="noise level of the smoothing (L2, input units), e.g. 0.25")
@click.option(
    "--n-samples",
    "n_samples",
    default=10_000,
    show_default=True,
    type=COUNT,
    help="noise draws per input that certify its class (the paper's n)",
)
@click.option("--n0", default=100, show_default=True, type=COUNT, help="noise draws per input that choose its class")
@click.option("--alpha", default=0.001, show_default=True, type=float, help="probability that a certificate is wrong")
@click.option(
    "--radii",
    default=",".join(f"{r:g}" for r in DEFAULT_RADII),
    show_default=True,
    help="comma-separated L2 radii of the report's table",
)
@seed_option
@batch_size_option(1000, help="rows (inputs x noise draws) per pass through the model")
@resume_option("certify_state")
@quiet_option
@output_options("folder for report.json, report.html and the resumable state")
@device_option
def certify_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    n: int | None,
    sigma: float,
    n_samples: int,
    n0: int,
    alpha: float,
    radii: str,
    seed: int,
    batch_size: int,
    resume: bool,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Certify the smoothed classifier of a model (randomized smoothing, Cohen et al. 2019): certified
    accuracy against L2 radius, abstain rate, smoothed clean accuracy. Resumable: run it again."""
    from feint.capabilities.certify.run import certify
    from feint.defenses.smoothing import check_sampling, check_sigma

    check_sigma(sigma)  # bad settings fail before anything loads
    check_sampling(n0=n0, n=n_samples, alpha=alpha)
    table = parse_floats(radii, "--radii") or []
    dev = resolve_device(device)

    loaded, dataset = load_module_and_data(
        out, model_spec=model_spec, weights=weights, trust=trust_file, device=dev, data=data, split=split,
        data_path=data_path, n=n, seed=seed, why="feint certify adds noise to the inputs of a torch model",
    )  # fmt: skip
    report = certify(
        loaded.module, dataset, sigma=sigma, n0=n0, n=n_samples, alpha=alpha, radii=table, model_name=loaded.name,
        resume=resume, out=out, seed=seed, device=dev, progress=not quiet, batch_size=batch_size,
    )  # fmt: skip
    click.echo(report.summary())
    click.echo(f"report: {report.paths['html'].resolve()}")
