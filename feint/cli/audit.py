"""``feint audit``: the robustness audit of a saved model, report.json + report.html in ``--out``.

Under ``torchrun --nproc-per-node K -m feint audit ...`` the ranks share the batches; rank 0
prints the summary and writes ``--out`` (which need not be shared with the other ranks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from feint import distributed as fd
from feint.capabilities.audit.presets import PRESETS
from feint.capabilities.audit.run import DEFAULT_BATCH
from feint.cli.common import (
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
    preview,
    quiet_option,
    resolve_device,
    resume_option,
    seed_option,
)
from feint.errors import InputError
from feint.io import check_writable
from feint.models import resolve
from feint.models.loading import resolve_model


@click.command()
@model_options()
@data_options(whole_own_data=True)
@n_inputs_option("audit")
@click.option(
    "--eps", default=None, help="comma-separated radii, e.g. 0,0.1,0.2 or 0,2/255,8/255 (default: per dataset)"
)
@click.option("--norm", default="inf", show_default=True, type=click.Choice(["inf", "2"]))
@click.option("--preset", default="standard", show_default=True, type=click.Choice(PRESETS))
@seed_option
@batch_size_option(DEFAULT_BATCH)
@click.option(
    "--max-queries",
    default=None,
    type=int,
    help="query-only model: the most queries the WHOLE audit may send it (clean answers, checks, the surrogate's "
    "fit, every attack at every eps); default: no cap",
)
@click.option(
    "--surrogate",
    "surrogate_spec",
    default=None,
    help="query-only model: your own torch copy of it (run dir or convertible .onnx) for the transfer rung, "
    "instead of one fitted on its answers",
)
@resume_option("audit_state")
@click.option("--natural", is_flag=True, help="add accuracy under natural transformations (rotation, blur, JPEG, ...)")
@click.option(
    "--threat",
    "threats",
    multiple=True,
    help="add a threat model: patch:AREA, a patch covering that fraction (repeatable)",
)
@click.option(
    "--adaptive/--no-adaptive",
    default=True,
    show_default=True,
    help="probe the model first: BPDA through parts where the gradient dies, EOT and redraws for a random model",
)
@click.option(
    "--eot-samples", default=None, type=int, help="EOT draws per gradient on a random model [default: chosen]"
)
@click.option(
    "--redraws", default=None, type=int, help="redraws of every final point on a random model [default: chosen]"
)
@click.option(
    "--certify",
    "certify_sigma",
    default=None,
    type=float,
    help="audit the model smoothed at this noise level (randomized smoothing) and put its certified L2 lower "
    "bound beside the attacks' upper bound (needs --norm 2)",
)
@click.option(
    "--certify-samples", default=1000, show_default=True, type=int, help="with --certify: noise draws per input"
)
@click.option(
    "--certify-alpha", default=0.001, show_default=True, type=float, help="with --certify: failure probability"
)
@on_bad_file_option
@quiet_option
@output_options("folder for report.json, report.html and the resumable state")
@device_option
def audit_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    n: int | None,
    eps: str | None,
    norm: str,
    preset: str,
    seed: int,
    batch_size: int,
    max_queries: int | None,
    surrogate_spec: str | None,
    resume: bool,
    natural: bool,
    threats: tuple[str, ...],
    adaptive: bool,
    eot_samples: int | None,
    redraws: int | None,
    certify_sigma: float | None,
    certify_samples: int,
    certify_alpha: float,
    on_bad_file: str,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Audit a model's robustness over an eps grid; print a summary and write the report.

    A query-only model (ONNX that does not convert, .skops, a v2 URL) gets the preset's black-box part and
    its escalation: a transfer rung from a surrogate fitted on the model's answers (or --surrogate), then
    the search with more queries where it had not converged; --max-queries caps the whole audit's queries.
    """
    from feint.capabilities.audit.adaptive import check_counts
    from feint.capabilities.audit.run import audit

    grid = parse_floats(eps, "--eps")
    check_counts(eot_samples, redraws)
    smoothing = certify_settings(certify_sigma, certify_samples, certify_alpha, norm)
    dev = fd.start(resolve_device(device))
    with fd.together("loading the model and the data"):
        if fd.is_root():  # rank 0 alone writes --out
            check_writable(out, folder=True)
        loaded = resolve(model_spec, weights=weights, device=str(dev), trust=trust_file)
        dataset = open_data(data, split, data_path, n, seed, on_bad_file)  # a folder streams
        check_model_fits_data(loaded.config, preview(dataset), model_spec, loaded.target)
        surrogate = None
        if surrogate_spec is not None:
            surrogate, config = resolve_model(surrogate_spec, device=str(dev))
            check_model_fits_data(config, preview(dataset), surrogate_spec, surrogate)
    report = audit(
        loaded.target if smoothing is None else smoothed(loaded, model_spec, smoothing),
        dataset,
        eps=grid,
        norm=norm,
        preset=preset,
        model_name=loaded.name,
        model_note=loaded.how,
        resume=resume,
        natural=natural,
        threats=threats,
        adaptive=adaptive,
        eot_samples=eot_samples,
        redraws=redraws,
        max_queries=max_queries,
        surrogate=surrogate,
        out=out,
        seed=seed,
        device=dev,
        progress=not quiet,
        batch_size=batch_size,
    )
    if fd.is_root():
        click.echo(report.summary())
        click.echo(f"report: {Path(report.html_path or out).resolve()}")


def certify_settings(sigma: float | None, samples: int, alpha: float, norm: str) -> dict[str, float] | None:
    """``--certify``'s settings, checked before anything loads (None without ``--certify``)."""
    from feint.defenses.smoothing import check_sampling, check_sigma

    if sigma is None:
        return None
    if norm != "2":
        raise InputError(
            "--certify gives a certified L2 radius: randomized smoothing certifies L2 here, not Linf; add --norm 2"
        )
    n0 = min(100, samples) if samples >= 1 else samples
    check_sampling(n0=n0, n=samples, alpha=alpha)
    return {"sigma": check_sigma(sigma), "n0": n0, "n": samples, "alpha": alpha}


def smoothed(loaded: Any, model_spec: str, settings: dict[str, Any]) -> Any:
    """The loaded model's smoothed classifier (``--certify``): it needs a torch model to add noise to."""
    from feint.defenses.smoothing import smooth

    if loaded.module is None:
        raise InputError(
            f"--certify adds noise to the inputs of a torch model, but {model_spec} gives {loaded.describe()}; "
            "give a torch model (a run directory, module:factory or .onnx)"
        )
    return smooth(loaded.module, **settings)
