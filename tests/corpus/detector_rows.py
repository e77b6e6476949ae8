"""Corpus rows: `feint detect fit | eval` and the detectors' Python API (issue 12's bad inputs)."""

from __future__ import annotations

import torch
from helpers import PairNet

from corpus import Case, Ctx
from corpus.blackbox_rows import _skops
from corpus.models import digits_batch, linear
from feint.data import load
from feint.detectors import DensityUncertaintyDetector, MutationDetector
from feint.errors import InputError, ModelError
from feint.training import train

FIT = ("detect", "fit", "--model", "{run}", "--out", "det", "--quiet")
NO_POOL = ("feint.detectors.mutation.generate_pool",)


def fit_row(id: str, phrase: str, *args: str, error: type[BaseException] = InputError, forbid=NO_POOL) -> Case:  # type: ignore[no-untyped-def]
    return Case(id, cli=(*FIT, *args), error=error, phrase=phrase, forbid=forbid)


def eval_row(id: str, phrase: str, *args: str, make=None, error: type[BaseException] = InputError) -> Case:  # type: ignore[no-untyped-def]
    cli = ("detect", "eval", "--detector", "det", "--out", "report", "--quiet", *args)
    return Case(
        id, make=make, cli=cli, error=error, phrase=phrase, forbid=("feint.capabilities.detect.evaluation.craft",)
    )


def _detector_of_another_model(c: Ctx) -> None:
    """A detector fitted on a softmax model trained with another seed than the run's, saved as ``det``."""
    data = load("digits", "train")
    other = train("softmax", data, epochs=2, lr=0.01, seed=1, progress=False).model
    MutationDetector(other, n_mutants=4, rate=0.1).fit(data.x[:300], data.y[:300]).save(c.tmp / "det")


def serve_row(id: str, phrase: str, model: str = "{run}", make=None) -> Case:  # type: ignore[no-untyped-def]
    """``feint serve --detector det``: refused before the server starts."""
    cli = ("serve", "--model", model, "--detector", "det", "--port", "0")
    return Case(id, make=make, cli=cli, error=ModelError, phrase=phrase, forbid=("feint.server.run.serve_app",))


def _write(name: str, text: str):  # type: ignore[no-untyped-def]
    def make(c: Ctx) -> None:
        (c.tmp / "det").mkdir()
        (c.tmp / "det" / name).write_text(text, encoding="utf-8")

    return make


X, Y = digits_batch(40)
ROWS = [
    fit_row(
        "detect-fit-rate-zero", r"mutation rate must lie in \(0, 1\]", "--detector", "mutation", "--param", "rate=0"
    ),
    fit_row(
        "detect-fit-rate-over-1", r"mutation rate must lie in \(0, 1\]", "--detector", "mutation", "--param", "rate=1.5"
    ),
    fit_row(
        "detect-fit-no-mutant-passes",
        "lower the mutation rate",
        "--detector",
        "mutation",
        "--param",
        "rate=1",
        error=ModelError,
        forbid=(),
    ),
    fit_row(
        "detect-fit-too-few-clean",
        "too few clean inputs to set a threshold",
        "--detector",
        "mutation",
        "--n-inputs",
        "12",
    ),
    fit_row("detect-fit-no-such-layer", "no layer named 'fc9'", "--detector", "kde-bu", "--param", "layer=fc9"),
    fit_row(
        "detect-fit-no-dropout",
        "no dropout layer",
        "--detector",
        "kde-bu",
        "--param",
        "dropout=model",
        error=ModelError,
    ),
    fit_row("detect-fit-unknown-setting", "no setting rate", "--detector", "kde-bu", "--param", "rate=0.1"),
    Case(
        "detect-fit-out-holds-a-detector",
        make=_write("detector.json", "{}"),
        cli=(*FIT, "--detector", "mutation"),
        error=InputError,
        phrase="already holds a detector; pass --overwrite",
        forbid=NO_POOL,
    ),
    eval_row(
        "detect-eval-another-model",
        "fitted on another model",
        "--model",
        "{run}",
        make=_detector_of_another_model,
        error=ModelError,
    ),
    eval_row("detect-eval-no-folder", "no detector folder", error=ModelError),
    eval_row("detect-eval-corrupt-json", "not valid JSON", make=_write("detector.json", "{"), error=ModelError),
    eval_row("detect-eval-eps-zero", "--eps takes one finite positive number", "--eps", "0"),
    eval_row("detect-eval-unknown-attack", "unknown attack 'nope'", "--attacks", "fgsm,nope"),
    eval_row("detect-eval-param-without-attack", "must name the attack", "--param", "steps=5"),
    serve_row("serve-detector-another-model", "fitted on another model", make=_detector_of_another_model),
    serve_row("serve-detector-no-folder", "no detector folder"),
    serve_row("serve-detector-query-only-model", "needs the white-box torch model", "{tmp}/svc.skops", make=_skops),
    Case(
        "py-detector-unfitted",
        call=lambda c: MutationDetector(linear()).score(X),
        error=InputError,
        phrase="not fitted yet",
    ),
    Case(
        "py-kde-dropout-not-insertable",
        call=lambda c: DensityUncertaintyDetector(PairNet(), layer="flat", dropout="pair").fit(X, Y),
        error=ModelError,
        phrase="returns tuple, not a float tensor",
    ),
    Case(
        "py-kde-torchscript",
        call=lambda c: DensityUncertaintyDetector(torch.jit.script(linear())).fit(X, Y),
        error=ModelError,
        phrase="TorchScript",
    ),
    Case(
        "py-mutation-rate-nan",
        call=lambda c: MutationDetector(linear(), rate=float("nan")).fit(X, Y),
        error=InputError,
        phrase=r"mutation rate must lie in \(0, 1\]",
    ),
    Case(
        "py-mutation-relax-with-sigma",
        call=lambda c: MutationDetector(linear(), relax=0.1, sigma=0.01).fit(X, Y),
        error=InputError,
        phrase=r"relax \(sigma as a fraction",
    ),
    Case(
        "py-mutation-unknown-bound",
        call=lambda c: MutationDetector(linear(), bound="median").fit(X, Y),
        error=InputError,
        phrase="threshold bound",
    ),
]
