"""Corpus rows: users' own models (factories, modules) and models with non-finite logits or gradients."""

from __future__ import annotations

import feint
from corpus import Case, Ctx
from corpus import files as f
from corpus.model_dir_rows import attack_with
from corpus.models import NaNAt, OwnNet, SqrtNet, digits_batch
from feint.attacks import (
    fgsm,
    pgd,
)
from feint.data import load
from feint.errors import ModelError, NonFiniteLogits
from feint.models import load_model


def _train_own_module(c: Ctx) -> None:
    feint.train(OwnNet(), load("digits", "train").head(64), epochs=1, out=c.tmp / "own", progress=False)


GOOD = "import torch\nfrom torch import nn\n"
LINEAR = "nn.Sequential(nn.Flatten(), nn.Linear(64, 10))"


def user_row(
    id: str, source: str, phrase: str, error: type[BaseException] = ModelError, *extra: str, defect: int | None = None
) -> Case:
    name = "user_" + id.replace("-", "_")
    return Case(
        id,
        make=lambda c: f.module_file(c.tmp, name, GOOD + source),
        cli=attack_with(f"{name}:factory", *extra),
        error=error,
        phrase=phrase,
        defect=defect,
    )


def _forward(body: str) -> str:
    return (
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.inner = {LINEAR}\n    def forward(self, x):\n        out = self.inner(x)\n        {body}\n"
        "def factory():\n    return M()\n"
    )


USER = [
    Case(
        "user-spec-not-a-dir-or-factory",
        cli=attack_with("lenet"),
        error=ModelError,
        phrase="no model directory at 'lenet'",
    ),
    Case(
        "user-module-missing",
        cli=attack_with("no_such_module_xyz:factory"),
        error=ModelError,
        phrase="cannot import module",
    ),
    user_row("user-module-fails-on-import", "1 / 0\n", r"importing .* failed \(ZeroDivisionError", defect=5),
    user_row("user-no-such-factory", "def other():\n    pass\n", "has no callable 'factory'"),
    user_row(
        "user-factory-raises-valueerror",
        "def factory():\n    raise ValueError('needs a config')\n",
        "raised ValueError: needs a config",
        defect=5,
    ),
    user_row("user-factory-needs-arguments", "def factory(width):\n    return None\n", "raised TypeError", defect=5),
    user_row("user-factory-returns-a-dict", "def factory():\n    return {}\n", "returned dict, not a torch.nn.Module"),
    user_row(
        "user-forward-raises-valueerror",
        _forward("raise ValueError('bad input')"),
        r"the model fails on inputs of shape .*ValueError: bad input",
        defect=5,
    ),
    user_row(
        "user-forward-raises-assertion", _forward("assert False, 'no'"), "the model fails .*AssertionError", defect=5
    ),
    user_row("user-forward-returns-probabilities", _forward("return out.softmax(1)"), "remove the final softmax"),
    user_row("user-forward-returns-a-tuple", _forward("return out, out"), "returned tuple, not a tensor"),
    user_row("user-forward-returns-one-logit", _forward("return out[:, :1]"), "single output"),
    user_row("user-forward-wrong-batch", _forward("return out[:1]"), r"returned shape \(1, 10\) for 2 inputs"),
    user_row("user-forward-all-inf", _forward("return out * float('inf')"), "NaN or infinite logits", NonFiniteLogits),
    user_row(
        "user-forward-nan-on-later-rows",
        _forward("return torch.cat([out[:5], out[5:6] * torch.nan, out[6:]]) if x.shape[0] > 2 else out"),
        r"NaN or infinite logits for 1 of 20 inputs \(rows 5\)",
        NonFiniteLogits,
        "--attack",
        "pgd",
        defect=2,
    ),
    user_row(
        "user-weights-do-not-fit",
        "def factory():\n    return nn.Linear(3, 2)\n",
        "does not fit the model",
        ModelError,
        "--weights",
        "{run}/weights.safetensors",
    ),
    user_row(
        "user-weights-missing",
        "def factory():\n    return nn.Linear(3, 2)\n",
        "weights file 'w.safetensors' not found",
        ModelError,
        "--weights",
        "w.safetensors",
    ),
    user_row(
        "user-three-channel-model",
        "def factory():\n    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))\n",
        r"the model fails on inputs of shape \(20, 1, 8, 8\)",
    ),
]


PY = [
    Case(
        "py-nan-logits-past-the-probe",
        call=lambda c: fgsm(NaNAt(rows=(5, 9)), *digits_batch(12), eps=0.1),
        error=NonFiniteLogits,
        phrase=r"for 2 of 12 inputs \(rows 5, 9\)",
        defect=2,
    ),
    Case(
        "py-nan-logits-at-perturbed-points",
        call=lambda c: pgd(NaNAt(off_grid=True), *digits_batch(12), eps=0.3, steps=5),
        error=NonFiniteLogits,
        phrase=r"rows .* at points the attack evaluated",
        defect=2,
    ),
    Case(
        "py-audit-nan-logits-names-audit-rows",
        call=lambda c: feint.audit(NaNAt(off_grid=True), *digits_batch(12), eps=[0.1], preset="quick", progress=False),
        error=NonFiniteLogits,
        phrase=r"of 12 inputs \(rows",
        defect=2,
    ),
    Case(
        "py-audit-nan-clean-rows",
        call=lambda c: feint.audit(NaNAt(rows=(3,)), *digits_batch(12), eps=[0.1], preset="quick", progress=False),
        error=NonFiniteLogits,
        phrase=r"for 1 of 12 inputs \(rows 3\)",
        defect=2,
    ),
    Case(
        "py-infinite-gradients",
        call=lambda c: fgsm(SqrtNet(), *digits_batch(12), eps=0.5, norm="2"),
        error=ModelError,
        phrase="the attack reached NaN or infinite inputs for rows",
    ),
    Case(
        "py-run-dir-of-own-module",
        make=_train_own_module,
        call=lambda c: load_model(c.tmp / "own"),
        error=ModelError,
        phrase=r"your own module .*OwnNet .*load_weights\(YourModule",
        defect=4,
    ),
    Case(
        "py-train-own-module-out-under-a-file",
        make=lambda c: (c.tmp / "f").write_text("x"),
        call=lambda c: feint.train(OwnNet(), load("digits", "train").head(8), out=c.tmp / "f" / "run", progress=False),
        phrase="which is a file, not a folder",
        defect=5,
    ),
]


ROWS = USER + PY
