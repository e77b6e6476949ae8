"""Corpus rows: `feint certify`, `feint audit --certify`, `feint.smooth` and the gaussian-noise recipe (issue 24)."""

from __future__ import annotations

import re

import torch

from corpus import Case
from corpus.models import linear
from feint.errors import InputError

CERTIFY = ("certify", "--model", "{run}", "--n-inputs", "8", "--quiet")
NO_CERTIFYING = ("feint.capabilities.certify.run.certify_inputs",)  # where the room looks it up
NO_AUDIT = ("feint.capabilities.audit.run.audit",)


def certify_row(id: str, message: str, *args: str) -> Case:
    """``message`` is matched literally."""
    return Case(
        id, cli=(*CERTIFY, *args, "--out", "out"), error=InputError, phrase=re.escape(message), forbid=NO_CERTIFYING
    )


def _certify_without_sigma() -> None:
    import feint

    feint.certify(linear(), torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))


ROWS = [
    certify_row("certify-sigma-zero", "sigma (the noise level of randomized smoothing) must be a finite number > 0", "--sigma", "0"),
    certify_row("certify-sigma-negative", "must be a finite number > 0, got -0.5", "--sigma", "-0.5"),
    certify_row("certify-n0-over-n", "n0 (500) must not exceed n (100)", "--sigma", "0.25", "--n0", "500", "--n-samples", "100"),
    certify_row("certify-alpha-zero", "alpha (the probability that a certificate is wrong) must lie strictly between 0 and 1", "--sigma", "0.25", "--alpha", "0"),
    certify_row("certify-alpha-one", "must lie strictly between 0 and 1, got 1.0", "--sigma", "0.25", "--alpha", "1"),
    Case(
        "audit-certify-linf",
        cli=("audit", "--model", "{run}", "--certify", "0.25", "--quiet", "--out", "out"),
        error=InputError,
        phrase=re.escape("randomized smoothing certifies L2 here, not Linf; add --norm 2"),
        forbid=NO_AUDIT,
    ),
    Case(
        "recipe-gaussian-noise-sigma-zero",
        cli=("train", "--epochs", "1", "--quiet", "--recipe", "gaussian-noise", "--recipe-param", "sigma=0", "--out", "run"),
        error=InputError,
        phrase=re.escape("sigma (the noise level of randomized smoothing) must be a finite number > 0"),
        forbid=("feint.training.trainer.create_model",),
    ),
    Case("certify-python-no-sigma", call=lambda c: _certify_without_sigma(), error=InputError, phrase="give sigma"),
]  # fmt: skip
