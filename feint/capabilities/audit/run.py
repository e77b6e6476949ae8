"""``feint.audit``: a robustness audit that writes a report a person can read.

Runs a preset of attacks (see :mod:`feint.capabilities.audit.presets`) over an eps grid, keeps the
per-input worst case, compares against random noise, runs the gradient-masking checks of Carlini
et al. 2019 ("On Evaluating Adversarial Robustness") and writes ``report.json`` (schema
``feint.audit/1``) and a self-contained ``report.html``. The evaluation follows Croce & Hein
2020 ("Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
attacks"): each attack only runs on the inputs still robust, and the state is saved after every
attack x eps unit so an interrupted audit resumes where it stopped. Shapes: x (N, C, H, W), y (N,).

A query-only model (an :class:`~feint.oracles.Oracle`: ONNX without conversion, scikit-learn, an
HTTP endpoint) gets the preset's black-box part and a report that says plainly that white-box
attacks could not run, so its robust accuracies are upper bounds.

Before it attacks, the audit adapts (:mod:`feint.capabilities.audit.adaptive`): through a non-differentiable
part with BPDA, on a randomized model with EOT and seeded redraws, and where the model leaves
autograd it takes the query-only path. Every attack's forward and backward rows are counted
(:mod:`feint.capabilities.audit.passes`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.core import eval_mode
from feint.attacks.result import predict_logits
from feint.capabilities.audit import queries
from feint.capabilities.audit.adaptive import adapt, record
from feint.capabilities.audit.diagnose import run_checks
from feint.capabilities.audit.escalate import escalate
from feint.capabilities.audit.interval import interval_notes, interval_section, interval_settings, measure_interval
from feint.capabilities.audit.passes import counting_passes, keep_total
from feint.capabilities.audit.presets import NOISE, AttackPlan, Preset, get_preset
from feint.capabilities.audit.queries import budget as query_budget
from feint.capabilities.audit.queries import check_budget
from feint.capabilities.audit.randomness import seeded
from feint.capabilities.audit.redraws import evaluate_redraws
from feint.capabilities.audit.report import adversarial_logits, pick_gallery
from feint.capabilities.audit.result import audit_report, build_report
from feint.capabilities.audit.resume import start_state
from feint.capabilities.audit.runner import AuditSetup, robust_now, run_min_norm, run_unit, unit_keys
from feint.capabilities.audit.state import AuditState, digests, fingerprint
from feint.data.dataset import Dataset, DatasetInfo
from feint.data.inputs import unpack
from feint.data.rows import Inputs, Rows, spool
from feint.data.stream import Source
from feint.devices import place
from feint.io import check_writable, remove_stale_temps
from feint.measure.defaults import default_eps
from feint.oracles import Oracle
from feint.oracles.logits import access_of, oracle_logits
from feint.progress import bar, milestone
from feint.report.files import json_safe
from feint.report.gallery import GalleryItem
from feint.report.report import Report
from feint.threat import parse_norm
from feint.validation import (
    check_choice,
    check_images,
    check_labels,
    check_nonnegative,
    check_positive_int,
    model_logits,
)

AUDIT_NORMS = ("inf", "2")
DEFAULT_BATCH = 1000
Callback = Callable[[str, int, int], None]


def _eps_grid(eps: Sequence[float] | float | None, info: DatasetInfo | None, norm: str, x: Inputs) -> tuple[float, ...]:
    if eps is None:
        name = info.name if info is not None else None
        bounds = info.bounds if info is not None else (0.0, 1.0)
        return default_eps(name, norm, bounds=bounds, dim=int(x[0].numel()))
    values = [eps] if isinstance(eps, (int, float)) else list(eps)
    for v in values:
        check_nonnegative(v, "every eps", finite=False)
        if v == float("inf"):
            from feint.errors import InputError

            raise InputError("eps must be finite in an audit; the minimum-norm attack already covers unbounded sizes")
    return tuple(sorted({float(v) for v in values}))


def _register_attacks() -> None:
    """Import the attack modules so that the registry knows every preset's attacks."""
    import importlib

    for module in (
        "feint.attacks",
        "feint.attacks.square",
        "feint.attacks.fmn",
        "feint.attacks.hopskipjump",
        "feint.attacks.surrogate",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:  # get_attack then names the missing attack
            continue


def _clean_logits(model: nn.Module | Oracle, x: Inputs, y: Tensor, info: DatasetInfo | None, batch_size: int) -> Tensor:
    """(N, K) clean logits, batch by batch; under torchrun each rank answers its own batches (an
    oracle is asked once per input, not once per rank) and every rank gets them all."""
    if isinstance(model, Oracle) and model.num_classes is None:
        # A label-only oracle (e.g. `feint serve --output label`) does not say how many classes it
        # has; the data does. Sized by the labels of one batch instead, the one-hot answers of two
        # batches disagree in width (issue 19, class 9).
        model.num_classes = info.num_classes if info is not None else int(y.max()) + 1
    if isinstance(model, nn.Module):
        model_logits(
            model, x if isinstance(x, Tensor) else x[:8]
        )  # one clear error: a model that does not fit, or returns probabilities
    chunks = torch.arange(x.shape[0], device=x.device).split(batch_size)

    def work(c: int) -> dict[str, Tensor]:
        rows = x[chunks[c]]
        return {"logits": oracle_logits(model, rows) if isinstance(model, Oracle) else predict_logits(model, rows)}

    return torch.cat(
        [part["logits"] for _, part in fd.map_chunks(len(chunks), work, device=x.device, what="clean logits")]
    )


@fd.alone_unless_distributed
def audit(
    model: nn.Module | Oracle,
    x: Tensor | Dataset | Source,
    y: Tensor | None = None,
    *,
    eps: Sequence[float] | float | None = None,
    norm: str = "inf",
    preset: str | Preset = "standard",
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    n: int | None = None,
    model_name: str | None = None,
    model_note: str | None = None,
    resume: bool = True,
    natural: bool = False,
    threats: Sequence[str] = (),
    adaptive: bool = True,
    approximations: Mapping[str, Callable[[Tensor], Tensor]] | None = None,
    eot_samples: int | None = None,
    redraws: int | None = None,
    max_queries: int | None = None,
    surrogate: nn.Module | None = None,
    callback: Callback | None = None,
    distributed: bool | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> Report:
    """Audit ``model`` on ``(x, y)`` over an eps grid with a preset of attacks; returns the
    ``feint.audit/2`` :class:`~feint.report.Report` (saved to ``out`` when given).

    ``x`` is a :class:`~feint.data.dataset.Dataset` (``feint.load("digits")``; then no ``y``), a
    tensor (N, C, H, W) with labels ``y`` (N,), or a streamed source (:func:`feint.data.open_source`:
    an image folder, a folder of ``.npz`` shards, your torch Dataset): it is read batch by batch into
    a file (decoding in DataLoader workers) and the attacks read their rows from there, so memory
    stays flat in the number of inputs. The default eps grid is the dataset's
    (:func:`feint.measure.defaults.default_eps`; ``feint audit`` uses the same), which needs its name:
    from the Dataset or ``data_info``; plain tensors get a grid relative to the bounds. ``split``
    names the split in the report (default: the Dataset's). ``n`` audits the first ``n`` inputs.
    The figures: :func:`feint.capabilities.audit.result.worst_case_accuracy` (the headline per eps;
    for a randomized model the mean over redraws), ``report["clean_accuracy"]``, ``report["eps"]``,
    ``report["checks"]``, ``report["passes"]``.

    ``model`` is a torch module (white-box) or an oracle (the preset's black-box part runs);
    ``model_note`` says in the report how the access was obtained. ``preset`` is ``"quick"``,
    ``"standard"`` (adaptive: it escalates where its attacks have not converged, see
    :mod:`feint.capabilities.audit.escalate`), ``"thorough"`` or a :class:`~feint.capabilities.audit.presets.Preset` of
    your own. ``out`` (a folder) receives ``report.json``, ``report.html`` and the resumable
    ``audit_state/``; without it nothing is written. ``callback(unit, done, total)`` is called
    after every finished unit. ``progress`` (default off; ``feint audit`` turns it on) shows a bar
    on a terminal and one line per eps in a log. ``natural`` adds the natural-variation section (:mod:`feint.measure.natural`).
    ``threats`` adds threat models beside the norm ball: ``"patch:AREA"`` (a patch covering that
    fraction of the image, :mod:`feint.measure.patch_threat`; a torch model only).
    Attacks run on batches of ``batch_size`` inputs, each with its own seed (the results depend on it).
    ``device`` (default: where the inputs are) moves the inputs and a torch model (in place) there.

    A query-only model gets Square (scores) or HopSkipJump (labels) and, in the ``standard`` and
    ``thorough`` presets, an escalation ladder: a transfer rung from a surrogate fitted on the model's
    own answers (or ``surrogate``, a torch module of your own with the model's classes), then the
    search with 4x, 16x, 64x its budget where it was still fooling inputs late in its queries.
    ``max_queries`` caps the queries sent to such a model over the WHOLE audit (clean answers, checks,
    the surrogate's fit, every attack at every eps; :mod:`feint.capabilities.audit.queries`); the report's
    ``queries`` section gives what was spent per attack, per eps and in total.
    ``adaptive`` (default) probes the model first (:mod:`feint.capabilities.audit.adaptive`): where the
    gradient dies in a submodule, every attack goes through it with BPDA (the identity on its
    backward pass, or ``approximations[name]``, a differentiable function of the submodule's input
    with the submodule's output shape); where the model leaves autograd it is audited as a score
    oracle; where it is randomized, the gradient attacks average ``eot_samples`` draws and every
    final point is evaluated over ``redraws`` seeded redraws (both chosen by the audit unless given).
    ``adaptive=False`` runs the preset on the model as it is (the plain audit, for comparison).

    Under torchrun (``distributed=None``, the default, notices it; ``True`` insists, ``False``
    runs the whole audit in this process) every rank calls ``audit`` with the same arguments: the
    batches are shared out by rank, the per-sample results gathered, rank 0 alone writes ``out``,
    and every rank returns the same report, equal to a single process's (timings aside).
    """
    t0 = time.perf_counter()
    norm = parse_norm(norm)
    check_choice(norm, AUDIT_NORMS, "audit norm")
    check_positive_int(batch_size, "batch_size (--batch-size)")
    if n is not None:
        check_positive_int(n, "n")
    inputs, y, data_info, split, stream_notes = _inputs(x, y, data_info, split, n, batch_size)
    model, y = place(device, model), place(device, y)
    inputs = inputs.to(device) if isinstance(inputs, Rows) and device is not None else place(device, inputs)
    bounds = data_info.bounds if data_info is not None else (0.0, 1.0)
    if isinstance(inputs, Tensor):
        check_images(inputs, bounds=bounds)
        inputs = inputs.detach().clamp(*bounds)  # values within the check's tolerance outside: onto the bounds
    check_labels(y, n=inputs.shape[0])
    check_budget(model, max_queries, surrogate)
    patch_areas = _patch_areas(threats, model)
    shared = fd.join(distributed, inputs.device)
    if shared:  # before the first exchange (the clean logits): ranks started differently must not trade results
        given: dict[str, Any] = {"eps": eps if eps is None or isinstance(eps, (int, float)) else list(eps)}
        given |= {"norm": norm, "preset": preset if isinstance(preset, str) else preset.name, "seed": seed}
        given |= {"batch_size": batch_size}
        given |= {"adaptive": adaptive, "max_queries": max_queries, "eot_samples": eot_samples, "redraws": redraws}
        fd.check_same_job(digests(given, inputs, y, model))
        fd.check_enough_inputs(inputs.shape[0], "inputs to audit")
    progress = progress and fd.is_root()
    with fd.together("checking the output folder"):
        if out is not None and fd.is_root():  # rank 0 alone writes out
            check_writable(out, folder=True)
            remove_stale_temps(out)
    access = access_of(model) if isinstance(model, Oracle) else "white-box"
    account = queries.Account.open(model, max_queries)  # a query-only model's spend
    # The torch RNG starts from the seed (and the caller's is restored): a randomized model's draws repeat.
    with (
        eval_mode(model) if isinstance(model, nn.Module) else nullcontext(),
        seeded(seed, inputs.device),
        counting_passes(model) as passes,
        query_budget(model, max_queries),
    ):
        clean_logits = _clean_logits(model, inputs, y, data_info, batch_size)
        num_classes = clean_logits.shape[1]
        check_labels(y, n=inputs.shape[0], num_classes=num_classes)
        grid = _eps_grid(eps, data_info, norm, inputs)
        adaptation = adapt(
            model,
            inputs,
            y,
            clean_logits.argmax(1) == y,
            num_classes=num_classes,
            bounds=bounds,
            seed=seed,
            enabled=adaptive,
            approximations=approximations,
            eot_samples=eot_samples,
            redraws=redraws,
            batch_size=batch_size,
        )
        if adaptation.access != "white-box" and access == "white-box":
            access = adaptation.access
            account = queries.Account.open(adaptation.model, None)  # the degraded model's queries, reported
            model_note = "; ".join([*filter(None, [model_note]), *adaptation.section["notes"]])
        _register_attacks()
        base = preset if isinstance(preset, Preset) else get_preset(preset)
        chosen = base.for_access(access).for_task(norm, num_classes)
        if adaptation.bypassed:
            chosen = chosen.through_bypass()
        if adaptation.eot and chosen.escalation:
            chosen = chosen.for_randomized()
            adaptation.section["notes"].append(
                "no escalation ladder on a randomized model: the final EOT-PGD (two expected losses from random "
                "starts, no early stop) ran on every input instead (see the redraws)"
            )
        plans = (*chosen.attacks, AttackPlan(NOISE, "black-box", standalone=True))
        setup = AuditSetup(
            adaptation.model,
            inputs,
            y,
            clean_logits,
            clean_logits.argmax(1) == y,
            grid,
            norm,
            bounds,
            plans,
            seed,
            batch_size,
            access=access,
            surrogate=surrogate,
            keep_near=adaptation.redraws > 0,
        )
        settings = {
            "preset": chosen.name,
            "norm": norm,
            "eps": list(grid),
            "seed": seed,
            "bounds": list(bounds),
            "batch_size": batch_size,
            "attacks": {p.key: dict(p.params) for p in plans},
            "escalation": {p.key: dict(p.params) for p in chosen.escalation},
            **({"max_queries": max_queries} if max_queries is not None else {}),
            **({"surrogate": digests({}, inputs[:1], y[:1], surrogate)["weights"]} if surrogate is not None else {}),
            **({"certify": certified} if (certified := interval_settings(model, norm)) is not None else {}),
            "adaptive": {
                "enabled": adaptive,
                "approximations": sorted(approximations or {}),
                "eot_samples": eot_samples,
                "redraws": redraws,
            },
        }
        parts = digests(settings, inputs, y, model)
        if shared:
            fd.check_same_job(parts)
        with tempfile.TemporaryDirectory(prefix="feint-audit-") as scratch:
            state, notes = start_state(setup, fingerprint(parts), out, resume, scratch)
            notes += _idle_ranks(inputs.shape[0], batch_size) + stream_notes + interval_notes(model, norm)
            if account is not None:
                account.resume(state)
            record(state, adaptation)
            resumed = list(state.done)
            try:
                _run_units(setup, state, out, progress, callback, unit_keys(setup))
                setup, checks = escalate(
                    setup,
                    state,
                    chosen,
                    lambda s, keys: _run_units(s, state, out, progress, callback, keys, "escalating"),
                )
                measure_interval(model, setup, state, evaluate_redraws(setup, state, adaptation))
                if checks is None and fd.is_root():  # run here, so that the total counts their passes
                    checks = run_checks(setup, state, chosen)
                keep_total(state, passes, resumed, inputs.device)
                if out is not None and fd.is_root():
                    state.save(out)
                described = {
                    "preset": chosen,
                    "settings": settings,
                    "data_info": data_info,
                    "split": split,
                    "model_name": model_name,
                    "started": t0,
                    "checks": checks,
                    "access": {"level": access, "note": model_note or "", "white_box_attacks": access == "white-box"},
                    "original": model,
                }
                natural_part = _natural_section(natural, model, inputs, y, bounds, progress)
                patch_part = _patch_section(patch_areas, model, inputs, y, bounds, seed, progress)
                report = _finish(setup, state, described, natural_part, account, notes, patch_part)
            finally:
                if state.points is not None:
                    state.points.close()
                if isinstance(inputs, Rows):
                    inputs.close()
    return report.save(out) if out is not None and fd.is_root() else report


def _inputs(
    x: Tensor | Dataset | Source,
    y: Tensor | None,
    info: DatasetInfo | None,
    split: str | None,
    n: int | None,
    batch: int,
) -> tuple[Inputs, Tensor, DatasetInfo | None, str | None, list[str]]:
    """``(x, y, info, split, notes)``: a streamed source copied batch by batch to a file (the first ``n``
    inputs) and read from there; tensors and Datasets as they are (their first ``n``)."""
    if not isinstance(x, Source):
        xt, yt, info, split = unpack(x, y, info, split)
        return (xt, yt, info, split, []) if n is None else (xt[:n], yt[:n], info, split, [])
    if y is not None:
        from feint.errors import InputError

        raise InputError("pass a data source alone: its labels come with it, not as y")
    spooled = spool(x, batch_size=min(batch, 256), limit=n)
    return spooled.x, spooled.y, info or spooled.info, split or spooled.split, list(spooled.notes)


def _idle_ranks(n: int, batch_size: int) -> list[str]:
    """A note when there are fewer batches than ranks (batch c runs on rank c % K)."""
    k, batches = fd.world_size(), -(-n // batch_size)
    if batches >= k:
        return []
    return [
        f"{n} inputs make {batches} batch(es) of {batch_size} for {k} ranks: some ranks had no work; "
        f"--batch-size {-(-n // k)} or less gives every rank a batch (the results depend on the batch size)"
    ]


def _natural_section(
    wanted: bool, model: Any, x: Inputs, y: Tensor, bounds: tuple[float, float], progress: bool
) -> Callable[[], dict[str, Any]] | None:
    """The natural-variation section's maker (:mod:`feint.measure.natural`), or None when not wanted."""
    if not wanted:
        return None
    from feint.measure.natural import natural_variation

    whole = x.materialize() if isinstance(x, Rows) else x  # the natural section reads every input at once
    return lambda: natural_variation(model, whole, y, bounds=bounds, progress=progress)


def _patch_areas(threats: Sequence[str], model: nn.Module | Oracle) -> list[float]:
    """The areas of ``threats`` (``"patch:AREA"``), checked before any work."""
    from feint.measure.patch_threat import parse_threat

    areas = [parse_threat(t) for t in ([threats] if isinstance(threats, str) else threats)]
    if areas and not isinstance(model, nn.Module):
        from feint.errors import InputError

        raise InputError("the patch threat model trains patches by gradients: audit a torch model to use patch:AREA")
    return areas


def _patch_section(
    areas: list[float], model: Any, x: Inputs, y: Tensor, bounds: tuple[float, float], seed: int, progress: bool
) -> Callable[[], dict[str, Any]] | None:
    """The patch threat section's maker (:mod:`feint.measure.patch_threat`), or None without ``threats``."""
    if not areas:
        return None
    from feint.measure.patch_threat import patch_threat

    whole = x.materialize() if isinstance(x, Rows) else x  # the universal patch trains on every input
    return lambda: patch_threat(model, whole, y, areas=areas, bounds=bounds, seed=seed, progress=progress)


def _finish(
    setup: AuditSetup,
    state: AuditState,
    described: dict[str, Any],
    natural: Callable[[], dict[str, Any]] | None,
    account: queries.Account | None,
    notes: list[str],
    patch: Callable[[], dict[str, Any]] | None = None,
) -> Report:
    """Rank 0 builds the report (``described``: build_report's keyword arguments; ``natural`` makes
    the natural-variation section; ``account``, a query-only audit's spend, the ``queries`` section,
    read once the report is built so that the checks' queries count) and picks its gallery (before
    the worst points' file closes); every rank gets the same report dict."""
    report = None
    gallery: list[GalleryItem] = []
    if account is not None:
        account.gather()
    if fd.is_root():
        adv = adversarial_logits(setup, state)
        report = build_report(setup, state, adv, **described)
        if natural is not None:
            report["natural"] = json_safe(natural())
        if patch is not None:
            report["patch"] = json_safe(patch())
        if account is not None:
            report["queries"] = json_safe(account.section(setup, state))
        if (interval := interval_section(state)) is not None:
            report["interval"] = json_safe(interval)
        gallery = pick_gallery(setup, state, adv, list(report["per_class"]["class_names"]))
    return audit_report(fd.broadcast_json(report, "sharing the report"), gallery, notes)


def _run_units(
    setup: AuditSetup,
    state: AuditState,
    out: str | Path | None,
    progress: bool,
    callback: Callback | None,
    keys: list[tuple[str, int, int | None]],
    stage: str = "",
) -> None:
    """Run the units ``keys`` not done yet, saving the state after each."""
    done = set(state.done)
    if all(key in done for key, _, _ in keys):
        return
    last_at_eps = {e: key for key, _, e in keys if e is not None}
    desc = f"audit: {stage} with {setup.plans[keys[0][1]].key}" if stage else "audit"
    initial = sum(key in done for key, _, _ in keys)
    with bar(progress, total=len(keys), initial=initial, desc=desc) as shown:
        for key, plan_idx, e in keys:
            if key in done:
                continue
            shown.set_postfix_str(key if e is None else f"{setup.plans[plan_idx].key} eps={setup.eps[e]:g}")
            if e is None:
                run_min_norm(setup, state, key, plan_idx)
            else:
                run_unit(setup, state, key, plan_idx, e)
            if out is not None and fd.is_root():
                state.save(out)
            shown.update(1)
            if e is not None and last_at_eps[e] == key:
                robust = float(robust_now(setup, state, e).float().mean())
                milestone(progress, f"{desc}: eps {setup.eps[e]:g} done, worst-case accuracy {robust:.4f}")
            if callback is not None:
                callback(key, len(state.done), len(keys))
