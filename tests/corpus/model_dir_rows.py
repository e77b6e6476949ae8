"""Corpus rows: model directories (config.json, weights)."""

from __future__ import annotations

from corpus import Case
from corpus import files as f
from feint.errors import ModelError


def attack_with(model: str, *extra: str) -> tuple[str, ...]:
    return ("attack", "--model", model, "--eps", "0.1", "--n-inputs", "20", *extra)


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


ROWS = RUN_DIRS
