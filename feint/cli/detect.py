"""``feint detect fit | eval``: fit a detector of adversarial inputs, and evaluate it against attacks.

``fit`` writes the detector folder (``detector.json`` + safetensors, no pickle; for mutation testing
also the mutant pool as ``mutants.safetensors`` + ``mutants.json``); ``eval`` writes ``report.json``
and ``report.html``. A detector folder never names the model: ``eval`` (and ``feint serve
--detector``) take it from ``--model``, so a downloaded detector cannot make feint import code.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import click

from feint import distributed as fd
from feint.capabilities.detect.measure import MAX_ADAPTIVE_STEPS
from feint.cli.common import (
    Bounded,
    batch_size_option,
    check_model_fits_data,
    data_options,
    device_option,
    load_data,
    load_together,
    model_options,
    n_inputs_option,
    output_options,
    parse_params,
    quiet_option,
    resolve_device,
    seed_option,
)
from feint.errors import DistributedError, InputError
from feint.io import prepare_out

DETECTOR_KINDS = ("mutation", "kde-bu")


@click.group()
def detect_command() -> None:
    """Detect adversarial inputs: mutation testing (Wang et al. 2019) or kernel density + uncertainty (Feinman et al. 2017)."""


def detector_settings(kind: str, params: tuple[str, ...]) -> dict[str, Any]:
    """``--param key=value`` items checked against the detector's constructor; lists become tuples."""
    from feint.detectors import DETECTORS

    options = {k: tuple(v) if isinstance(v, list) else v for k, v in parse_params(params).items()}
    allowed = [p for p in inspect.signature(DETECTORS[kind]).parameters if p != "model"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"the {kind} detector has no setting {', '.join(unknown)}; its settings are {', '.join(allowed)}"
        )
    for key in ("layer", "dropout"):  # layer names are strings even when they look like numbers ("2")
        if key in options and options[key] is not None:
            options[key] = str(options[key])
    attacks, layers = options.get("attacks"), options.get("layers")
    if isinstance(attacks, str):
        options["attacks"] = tuple(a.strip() for a in attacks.split(","))
    if isinstance(layers, (str, int)):
        options["layers"] = (str(layers),)
    elif isinstance(layers, tuple):
        options["layers"] = tuple(str(name) for name in layers)
    return options


@detect_command.command("fit")
@model_options(help="a feint run directory or package.module:factory", trust=False)
@data_options(default_split="train")
@n_inputs_option("fit on", default=2000)
@click.option("--detector", "kind", required=True, type=click.Choice(DETECTOR_KINDS), help="which detector")
@click.option("--param", "params", multiple=True, help="detector setting key=value, repeatable (e.g. rate=0.05)")
@seed_option
@output_options("folder for the fitted detector", overwrite="replace a detector already in --out")
@quiet_option
@device_option
def fit_command(
    model_spec: str,
    weights: str | None,
    data: str,
    data_path: str | None,
    split: str,
    n: int,
    kind: str,
    params: tuple[str, ...],
    seed: int,
    out: str,
    overwrite: bool,
    quiet: bool,
    device: str,
) -> None:
    """Fit a detector on clean inputs (default: the training split) and save it to --out."""
    if fd.launched():
        raise DistributedError(
            "feint detect fit does not share its work among torchrun's ranks; run it without torchrun "
            "(feint detect eval does)"
        )
    from feint.detectors import DETECTORS
    from feint.detectors.base import DETECTOR_JSON
    from feint.models import resolve_model

    prepare_out(out)
    if (Path(out) / DETECTOR_JSON).exists() and not overwrite:
        raise InputError(f"{out} already holds a detector; pass --overwrite to replace it or choose another --out")
    options = {"seed": seed, **detector_settings(kind, params)}
    dev = resolve_device(device)
    model, config = resolve_model(model_spec, weights=weights, device=str(dev))
    dataset = load_data(data, split, data_path, n, seed)
    check_model_fits_data(config, dataset, model_spec, model)
    detector = DETECTORS[kind](model, bounds=dataset.info.bounds, **options)
    detector.fit(dataset.x.to(dev), dataset.y.to(dev), progress=not quiet)
    extra = {"data": dataset.info.to_dict(), "split": dataset.split}  # never the model: see _model_for
    detector.save(out, extra=extra)
    described = detector.describe()
    click.echo(
        f"{kind} detector fitted on {len(dataset)} {dataset.info.name} inputs; threshold {described['threshold']:.4g}"
    )
    if kind == "mutation":
        pool = described["pool"]
        click.echo(
            f"mutants kept: {pool['size']} of {pool['candidates_tried']} tried ({pool['operator'].upper()}, "
            f"rate {pool['rate']:g}), mean clean accuracy {pool['mean_accuracy']:.4f}"
        )
    else:
        click.echo(f"features: layer {described['layer']!r}; uncertainty from {described['dropout']}")
    click.echo(f"detector saved to {out}")


def _eval_params(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("cw.steps=50",)`` -> ``{"cw": {"steps": 50}}``."""
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in parse_params(items).items():
        attack, dot, option = key.partition(".")
        if not dot or not attack or not option:
            raise InputError(f"--param {key!r} must name the attack: attack.option=value (e.g. cw.steps=50)")
        grouped.setdefault(attack, {})[option] = value
    return grouped


def _model_for(detector_dir: str, model_spec: str | None, weights: str | None, device: str) -> tuple[Any, Any, str]:
    """The model given with --model. A detector folder is data: a model it names (detector.json of an
    older feint recorded ``extra.model``, possibly ``module:factory``) is never imported."""
    from feint.detectors.base import read_detector_json
    from feint.models import resolve_model

    if model_spec is None:
        named = (read_detector_json(detector_dir).get("extra") or {}).get("model")
        note = f" (its detector.json names {str(named)[:80]!r}, which feint never loads)" if named else ""
        raise InputError(
            f"pass --model: the model the detector in {detector_dir} was fitted on{note}; feint loads only "
            "a model you name, so a detector folder cannot make it run code"
        )
    model, config = resolve_model(model_spec, weights=weights, device=device)
    return model, config, model_spec


@detect_command.command("eval")
@click.option("--detector", "detector_dir", required=True, help="a folder written by `feint detect fit`")
@model_options(help="the model the detector was fitted on (required)", required=False, trust=False)
@data_options()
@n_inputs_option("evaluate on", default=500)
@click.option("--attacks", default="fgsm,pgd,cw,jsma,deepfool", show_default=True, help="comma-separated attack names")
@click.option(
    "--eps", default="0.1", show_default=True, help="perturbation size of the eps-bounded attacks, e.g. 0.1 or 8/255"
)
@click.option(
    "--param",
    "params",
    multiple=True,
    help="attack option attack.key=value, repeatable (e.g. cw.steps=50; fgsm.eps=0.3 overrides --eps for FGSM)",
)
@click.option("--adaptive/--no-adaptive", default=True, show_default=True, help="also run the adaptive attack")
@click.option(
    "--kappa", default=10.0, show_default=True, type=Bounded(low=0), help="confidence of the adaptive C&W (mutation)"
)
@click.option(
    "--adaptive-steps",
    default=100,
    show_default=True,
    type=Bounded(int, low=1, high=MAX_ADAPTIVE_STEPS),
    help="steps of the density-aware PGD",
)
@seed_option
@batch_size_option(128)
@output_options("folder for report.json and report.html")
@quiet_option
@device_option
def eval_command(
    detector_dir: str,
    model_spec: str | None,
    weights: str | None,
    data: str,
    data_path: str | None,
    split: str,
    n: int,
    attacks: str,
    eps: str,
    params: tuple[str, ...],
    adaptive: bool,
    kappa: float,
    adaptive_steps: int,
    seed: int,
    batch_size: int,
    out: str,
    quiet: bool,
    device: str,
) -> None:
    """Evaluate a fitted detector against attacks (and an adaptive attack); write report.json + report.html.

    Under torchrun the batches of inputs are shared among the ranks; rank 0 alone prints and writes --out."""
    from feint.capabilities.detect.run import detect, eval_settings
    from feint.cli.common import parse_floats
    from feint.detectors import load_detector

    names = tuple(a.strip() for a in attacks.split(",") if a.strip())
    if not names:
        raise InputError("--attacks is empty; name at least one attack, e.g. fgsm,pgd")
    budgets = parse_floats(eps, "--eps") or []
    if len(budgets) != 1 or not 0 < budgets[0] < math.inf:
        raise InputError(f"--eps takes one finite positive number, got {eps!r}")
    attack_params = _eval_params(params)
    eval_settings(  # every option checked before anything is loaded
        attacks=names, eps=budgets[0], params=attack_params, adaptive=adaptive, kappa=kappa,
        adaptive_steps=adaptive_steps, seed=seed, batch_size=batch_size,
    )  # fmt: skip
    dev = fd.start(resolve_device(device))

    def load() -> tuple[Any, ...]:
        model, config, spec = _model_for(detector_dir, model_spec, weights, str(dev))
        detector = load_detector(detector_dir, model)
        dataset = load_data(data, split, data_path, n, seed)
        check_model_fits_data(config, dataset, spec, model)
        return config, spec, detector, dataset

    config, spec, detector, dataset = load_together("loading the detector and the data", out, load)
    report = detect(
        detector, dataset.x.to(dev), dataset.y.to(dev), attacks=names, eps=budgets[0], params=attack_params,
        adaptive=adaptive, kappa=kappa, adaptive_steps=adaptive_steps, data_info=dataset.info, split=dataset.split,
        model_name=str(config["arch"]) if config else spec, out=out, seed=seed, progress=not quiet,
        batch_size=batch_size,
    )  # fmt: skip
    if not fd.is_root():
        return
    click.echo(report.summary())
    click.echo(f"report: {report.paths['html'].resolve()}")
