"""Corpus rows: model directories (config.json, weights) and users' own models (factories, modules)."""

from __future__ import annotations

import torch
from torch import nn

import feint
from corpus import Case, Ctx
from corpus import files as f
from feint.attacks import fgsm, pgd
from feint.data import load
from feint.errors import ModelError, NonFiniteLogits
from feint.models import load_model


def attack_with(model: str, *extra: str) -> tuple[str, ...]:
    return ("attack", "--model", model, "--eps", "0.1", "--n", "20", *extra)


def config_row(id: str, phrase: str, defect: int | None = None, **changes: object) -> Case:
    return Case(
        id,
        make=lambda c: f.run_dir(c.tmp / "m", f.config_of(c.run, **changes), weights_from=c.run),
        cli=attack_with("m"),
        error=ModelError,
        phrase=phrase,
        defect=defect,
    )


RUN_DIRS = [
    Case("model-no-such-dir", cli=attack_with("no/such/run"), error=ModelError, phrase="no model directory"),
    Case(
        "model-dir-without-config",
        make=lambda c: (c.tmp / "m").mkdir(),
        cli=attack_with("m"),
        error=ModelError,
        phrase=r"config\.json is missing",
    ),
    Case(
        "model-config-not-json",
        make=lambda c: f.run_dir(c.tmp / "m", "{arch: lenet"),
        cli=attack_with("m"),
        error=ModelError,
        phrase="not valid JSON",
    ),
    Case(
        "model-config-a-list",
        make=lambda c: f.run_dir(c.tmp / "m", "[1, 2]"),
        cli=attack_with("m"),
        error=ModelError,
        phrase="lacks 'arch' or 'data'",
    ),
    Case(
        "model-config-binary",
        make=lambda c: f.run_dir(c.tmp / "m", "") or (c.tmp / "m" / "config.json").write_bytes(b"\xff\xfe\x00"),
        cli=attack_with("m"),
        error=ModelError,
        phrase="not valid JSON",
    ),
    config_row("model-config-arch-a-list", r"'arch' is \['lenet'\], not a name", defect=5, arch=["lenet"]),
    config_row("model-config-arch-a-number", "'arch' is 3, not a name", defect=5, arch=3),
    config_row(
        "model-config-input-shape-int",
        r"'data\.input_shape' is 8, not three positive integers",
        defect=5,
        data__input_shape=8,
    ),
    config_row(
        "model-config-input-shape-text", "not three positive integers", defect=5, data__input_shape=["1", "8", "8"]
    ),
    config_row("model-config-input-shape-zero", "not three positive integers", data__input_shape=[1, 0, 8]),
    config_row("model-config-one-class", "'data.class_names' is not a list of at least two", data__class_names=["a"]),
    config_row("model-config-data-not-object", "not three positive integers", data="digits"),
    config_row("model-config-arch-kwargs-list", "'arch_kwargs' is not an object", arch_kwargs=[1]),
    config_row("model-config-unknown-arch", "unknown architecture 'vgg99'", arch="vgg99"),
    config_row("model-config-bad-arch-option", "bad options for architecture 'softmax'", arch_kwargs={"depth": 3}),
    config_row(
        "model-config-input-too-small-for-arch",
        r"architecture 'lenet' cannot take inputs of shape \(1, 1, 1\)",
        defect=5,
        arch="lenet",
        data__input_shape=[1, 1, 1],
    ),
    config_row("model-config-other-arch-weights", "does not fit the model", arch="mlp"),
    Case(
        "model-weights-missing",
        make=lambda c: f.run_dir(c.tmp / "m", f.config_of(c.run)),
        cli=attack_with("m"),
        error=ModelError,
        phrase="weights file .* not found",
    ),
    Case(
        "model-weights-corrupt",
        make=lambda c: (
            f.run_dir(c.tmp / "m", f.config_of(c.run)),
            (c.tmp / "m" / "weights.safetensors").write_bytes(b"\x10\x00garbage"),
        ),
        cli=attack_with("m"),
        error=ModelError,
        phrase="corrupt or not a safetensors file",
    ),
    Case(
        "model-run-of-own-module",
        make=lambda c: f.run_dir(c.tmp / "m", f.config_of(c.run, arch=None, module="mine.Net"), weights_from=c.run),
        cli=attack_with("m"),
        error=ModelError,
        phrase=r"your own module mine\.Net .* --model package\.module:factory --weights",
        defect=4,
    ),
]


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def _train_own_module(c: Ctx) -> None:
    feint.train(_Net(), load("digits", "train").head(64), epochs=1, out=c.tmp / "own", progress=False)


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


def _x(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    data = load("digits", "test")
    return data.x[:n].clone(), data.y[:n].clone()


class NaNAt(nn.Module):
    """A model whose logits are NaN on given rows of a full batch of 12 (the probe looks at 2), or
    (``off_grid``) on every input that is not a clean digit (pixels k/16): at perturbed points only."""

    def __init__(self, rows: tuple[int, ...] = (), off_grid: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        self.rows, self.off_grid = rows, off_grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        bad = torch.zeros(x.shape[0], dtype=torch.bool)
        if self.off_grid:
            bad = ((x * 16) - (x * 16).round()).abs().flatten(1).amax(1) > 1e-3
        elif x.shape[0] == 12:
            bad[list(self.rows)] = True
        return torch.where(bad[:, None], torch.nan, out)


class SqrtNet(nn.Module):
    """Finite logits, but an infinite gradient where a pixel is 0 (sqrt)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1).sqrt())


PY = [
    Case(
        "py-nan-logits-past-the-probe",
        call=lambda c: fgsm(NaNAt(rows=(5, 9)), *_x(), eps=0.1),
        error=NonFiniteLogits,
        phrase=r"for 2 of 12 inputs \(rows 5, 9\)",
        defect=2,
    ),
    Case(
        "py-nan-logits-at-perturbed-points",
        call=lambda c: pgd(NaNAt(off_grid=True), *_x(), eps=0.3, steps=5),
        error=NonFiniteLogits,
        phrase=r"rows .* at points the attack evaluated",
        defect=2,
    ),
    Case(
        "py-audit-nan-logits-names-audit-rows",
        call=lambda c: feint.audit(NaNAt(off_grid=True), *_x(), eps=[0.1], preset="quick", progress=False),
        error=NonFiniteLogits,
        phrase=r"of 12 inputs \(rows",
        defect=2,
    ),
    Case(
        "py-audit-nan-clean-rows",
        call=lambda c: feint.audit(NaNAt(rows=(3,)), *_x(), eps=[0.1], preset="quick", progress=False),
        error=NonFiniteLogits,
        phrase=r"for 1 of 12 inputs \(rows 3\)",
        defect=2,
    ),
    Case(
        "py-infinite-gradients",
        call=lambda c: fgsm(SqrtNet(), *_x(), eps=0.5, norm="2"),
        error=ModelError,
        phrase="the attack reached NaN or infinite inputs for rows",
    ),
    Case(
        "py-run-dir-of-own-module",
        make=_train_own_module,
        call=lambda c: load_model(c.tmp / "own"),
        error=ModelError,
        phrase=r"your own module .*_Net .*load_weights\(YourModule",
        defect=4,
    ),
    Case(
        "py-train-own-module-out-under-a-file",
        make=lambda c: (c.tmp / "f").write_text("x"),
        call=lambda c: feint.train(_Net(), load("digits", "train").head(8), out=c.tmp / "f" / "run", progress=False),
        phrase="which is a file, not a folder",
        defect=5,
    ),
]

ROWS = RUN_DIRS + USER + PY
