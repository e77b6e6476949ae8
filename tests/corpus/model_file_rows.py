"""Corpus rows: model files and URLs that run code, hang or do not fit the data (issue 19, classes 1, 4, 8).

- class 1: skops files whose ``sklearn.*`` types hold a callable (refused, nothing written), detector
  folders that name the model as ``module:factory`` (never imported: ``--model`` is required);
- class 4: ONNX graphs with an endless Loop (stopped after ``FEINT_ONNX_TIMEOUT``) or failing at
  run time, timeout settings that are not a number of seconds, models whose classes are not the
  data's (3 classes on digits, labels 90..99) refused before any work;
- class 8: an input shape the model cannot take (``fool --input-shape``, ``as_oracle``).

Hostile URLs need a live server, so they are in ``tests/test_hostile_upstream.py``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from corpus import Case, Ctx
from corpus import files as f
from corpus import hostile_files as h
from feint.errors import InputError, ModelError

FAST = {"FEINT_ONNX_TIMEOUT": "1"}


def _attack(model: str, *extra: str) -> tuple[str, ...]:
    return ("attack", "--model", model, "--eps", "0.1", "--n-inputs", "8", *extra)


def _commands(model: str) -> dict[str, tuple[str, ...]]:
    """The commands that load ``model`` (any form) and the data, each as a command line."""
    return {
        "attack": _attack(model, "--attack", "square"),
        "audit": ("audit", "--model", model, "--n-inputs", "8", "--out", "au", "--quiet"),
        "blackbox": ("blackbox", "--target", model, "--rounds", "1", "--epochs", "1", "--out", "bb", "--quiet"),
        "transfer": ("transfer", "--source", "{run}", "--target", model, "--n-inputs", "8", "--out", "tr", "--quiet"),
        "fool": ("fool", "--model", model, "--generations", "1", "--population", "4", "--out", "fo", "--quiet"),
        "serve": ("serve", "--model", model, "--port", "0"),
        "physical": ("physical", "--model", model, "--n-inputs", "8", "--out", "ph", "--quiet"),
    }


def _rows(
    stem: str, model: str, make: Any, phrase: str, error: type[BaseException], commands: tuple[str, ...], **kw: Any
) -> list[Case]:
    table = _commands(model)
    return [Case(f"{stem}-{cmd}", make=make, cli=table[cmd], error=error, phrase=phrase, **kw) for cmd in commands]


# -- class 1: code in files -----------------------------------------------------------------------


def _hostile(c: Ctx) -> None:
    h.hostile_skops(c.tmp / "m.skops", c.tmp / "executed.txt")


def _estimator(build: Any):  # type: ignore[no-untyped-def]
    """A fitted estimator made by ``build()`` (on 300 digits) saved as ``m.skops``."""

    def make(c: Ctx) -> None:
        import skops.io as sio
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sio.dump(build().fit(x[:300] / 16, y[:300]), c.tmp / "m.skops")

    return make


class _FitLast:
    """Fits only a pipeline's last step, so the first step's function is stored but never run here."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any:
        self.pipeline.steps[-1][1].fit(x, y)
        return self.pipeline


def _function_transformer(func: Any):  # type: ignore[no-untyped-def]
    def build() -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        pipeline = make_pipeline(FunctionTransformer(func=func), LogisticRegression(max_iter=50))
        return pipeline if func is np.log1p else _FitLast(pipeline)

    return build


def _knn_metric() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(metric=_l1)


def _l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).sum())


def _svc_kernel() -> Any:
    from sklearn.metrics.pairwise import linear_kernel
    from sklearn.svm import SVC

    return SVC(kernel=linear_kernel)


class _Noted:
    """Stands for a user's own class stored inside an estimator."""


def _custom_attribute() -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=50)
    model.note_ = _Noted()  # type: ignore[attr-defined]
    return model


def _skops_zip(members: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return lambda c: f.zip_members(c.tmp / "m.skops", members)


def _names_factory(model: str, with_module: bool = False):  # type: ignore[no-untyped-def]
    def make(c: Ctx) -> None:
        if with_module:
            h.evil_module(c.tmp)
        h.detector_naming(c.tmp / "det", model)

    return make


def _load_detector_naming_factory(c: Ctx) -> Any:
    from feint.detectors import load_detector
    from feint.models import resolve

    return load_detector(c.tmp / "det", resolve(c.run).module)  # type: ignore[arg-type]


def _attacked(c: Ctx, result: Any) -> None:
    assert "adversarial accuracy" in result.output, result.output


EVAL = ("detect", "eval", "--detector", "det", "--out", "report", "--quiet")
UNTRUSTED = "types feint does not trust"

CODE_IN_FILES = [
    *_rows(
        "skops-sklearn-payload",
        "{tmp}/m.skops",
        _hostile,
        UNTRUSTED + r" \(sklearn\.datasets\._svmlight_format_io\.dump_svmlight_file, .*FunctionTransformer\)",
        ModelError,
        ("attack", "audit", "blackbox", "transfer", "fool", "serve"),
    ),
    Case(
        "skops-os-system",
        make=_estimator(_function_transformer(os.system)),
        cli=_attack("{tmp}/m.skops"),
        error=ModelError,
        phrase=UNTRUSTED + r" \(posix\.system|nt\.system",
    ),
    Case(
        "skops-harmless-ufunc-still-a-callable",
        make=_estimator(_function_transformer(np.log1p)),
        cli=_attack("{tmp}/m.skops"),
        error=ModelError,
        phrase=UNTRUSTED + r" \(numpy\.log1p, .*FunctionTransformer\).*--trust-file",
    ),
    Case(
        "skops-knn-callable-metric",
        make=_estimator(_knn_metric),
        cli=_attack("{tmp}/m.skops"),
        error=ModelError,
        phrase=UNTRUSTED + r" \(corpus\.model_file_rows\._l1",
    ),
    Case(
        "skops-svc-callable-kernel",
        make=_estimator(_svc_kernel),
        cli=_attack("{tmp}/m.skops"),
        error=ModelError,
        phrase=UNTRUSTED + r" \(sklearn\.metrics\.pairwise\.linear_kernel\)",
    ),
    Case(
        "skops-custom-class",
        make=_estimator(_custom_attribute),
        cli=_attack("{tmp}/m.skops"),
        error=ModelError,
        phrase=UNTRUSTED + r" \(corpus\.model_file_rows\._Noted\)",
    ),
    Case(
        "skops-trusted-by-the-user",
        make=_estimator(_function_transformer(np.log1p)),
        cli=(*_attack("{tmp}/m.skops", "--attack", "square", "--trust-file"),),
        exit_code=0,
        check=_attacked,
    ),
    Case("skops-empty-file", make=lambda c: (c.tmp / "m.skops").write_bytes(b""), cli=_attack("{tmp}/m.skops"), error=ModelError, phrase="not a readable skops file"),
    Case("skops-zip-without-schema", make=_skops_zip({"other.txt": b"hi"}), cli=_attack("{tmp}/m.skops"), error=ModelError, phrase="not a readable skops file"),
    Case("skops-schema-not-json", make=_skops_zip({"schema.json": b"{not json"}), cli=_attack("{tmp}/m.skops"), error=ModelError, phrase="not a readable skops file"),
    Case("skops-schema-deep", make=_skops_zip({"schema.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000}), cli=_attack("{tmp}/m.skops"), error=ModelError, phrase="not a readable skops file"),
    Case("skops-missing", cli=_attack("{tmp}/none.skops"), error=ModelError, phrase="skops file .* not found"),
    Case("detect-eval-names-os-abort", make=_names_factory("os:abort"), cli=EVAL, error=InputError, phrase="pass --model.*names 'os:abort', which feint never loads"),
    Case("detect-eval-names-sys-exit", make=_names_factory("sys:exit"), cli=EVAL, error=InputError, phrase="names 'sys:exit', which feint never loads"),
    Case("detect-eval-names-module-beside", make=_names_factory("evil:build", with_module=True), cli=EVAL, error=InputError, phrase="names 'evil:build', which feint never loads"),
    Case("detect-eval-no-model-recorded", make=_names_factory(""), cli=EVAL, error=InputError, phrase=r"pass --model: the model the detector in det was fitted on; feint loads only"),
    Case("detect-eval-names-factory-model-given", make=_names_factory("evil:build", with_module=True), cli=(*EVAL, "--model", "{run}"), error=ModelError, phrase="fitted on another model"),
    Case("serve-detector-names-factory", make=_names_factory("evil:build", with_module=True), cli=("serve", "--model", "{run}", "--detector", "det", "--port", "0"), error=ModelError, phrase="fitted on another model"),
    Case("py-load-detector-names-factory", make=_names_factory("os:abort"), call=_load_detector_naming_factory, error=ModelError, phrase="fitted on another model"),
]  # fmt: skip


# -- class 4: graphs that hang or fail, models of other classes ------------------------------------


def _onnx(build: Any, name: str = "m.onnx", **kw: Any):  # type: ignore[no-untyped-def]
    return lambda c: build(c.tmp / name, **kw)


def _onnx_oracle_scores(c: Ctx) -> Any:
    from feint.oracles.onnx import onnx_oracle

    return onnx_oracle(c.tmp / "m.onnx").scores(torch.rand(2, 1, 8, 8))


def _py_onnx(id: str, build: Any, phrase: str, **kw: Any) -> Case:
    return Case(id, make=_onnx(build), call=_onnx_oracle_scores, error=ModelError, phrase=phrase, **kw)


def _factory(classes: int):  # type: ignore[no-untyped-def]
    source = f"from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, {classes}))\n"
    return lambda c: f.module_file(c.tmp, "three", source)


LOOPS = "ran longer than 1 s on a batch of \\d+ inputs and was stopped.*FEINT_ONNX_TIMEOUT=SECONDS"
FAILS = "failed when onnxruntime ran it on a batch of \\d+ inputs \\(Reshape node: .*cannot be reshaped"
THREE = "predicts 3 classes but digits has 10"
NINETY = "was fitted on labels 90..99, but the labels of digits are 0..9"

UNBOUNDED_MODELS = [
    *_rows("onnx-endless-loop", "{tmp}/m.onnx", _onnx(h.endless_loop_onnx), LOOPS, ModelError, ("attack", "audit", "blackbox", "transfer", "fool", "physical"), env=FAST),
    _py_onnx("py-onnx-endless-loop", h.endless_loop_onnx, LOOPS, env=FAST),
    *_rows("onnx-fails-at-run-time", "{tmp}/m.onnx", _onnx(h.failing_onnx), FAILS, ModelError, ("attack", "blackbox", "fool")),
    _py_onnx("py-onnx-fails-at-run-time", h.failing_onnx, FAILS),
    Case("onnx-custom-operator", make=_onnx(h.custom_op_onnx), cli=_attack("{tmp}/m.onnx"), error=ModelError, phrase="is not a registered function/op"),
    Case("onnx-timeout-not-a-number", make=_onnx(h.onnx_classifier), cli=_attack("{tmp}/m.onnx"), env={"FEINT_ONNX_TIMEOUT": "soon"}, error=InputError, phrase="FEINT_ONNX_TIMEOUT='soon' is not a positive number of seconds"),
    Case("onnx-timeout-negative", make=_onnx(h.onnx_classifier), cli=_attack("{tmp}/m.onnx"), env={"FEINT_ONNX_TIMEOUT": "-5"}, error=InputError, phrase="FEINT_ONNX_TIMEOUT='-5' is not a positive"),
    Case("url-timeout-zero", cli=_attack("http://127.0.0.1:9/v2/models/m", "--attack", "square"), env={"FEINT_HTTP_TIMEOUT": "0"}, error=InputError, phrase="FEINT_HTTP_TIMEOUT='0' is not a positive number"),
    Case("url-timeout-inf", cli=_attack("http://127.0.0.1:9/v2/models/m", "--attack", "square"), env={"FEINT_HTTP_TIMEOUT": "inf"}, error=InputError, phrase="FEINT_HTTP_TIMEOUT='inf' is not a positive number"),
    *_rows("onnx-3-classes", "{tmp}/m.onnx", _onnx(h.onnx_classifier, classes=3), THREE, InputError, ("attack", "audit", "blackbox", "transfer", "physical")),
    *_rows("skops-3-classes", "{tmp}/m.skops", lambda c: h.sklearn_skops(c.tmp / "m.skops", classes=3), THREE, InputError, ("attack", "audit", "blackbox", "transfer")),
    *_rows("skops-labels-90-99", "{tmp}/m.skops", lambda c: h.sklearn_skops(c.tmp / "m.skops", offset=90), NINETY, InputError, ("attack", "audit", "blackbox", "transfer")),
    *_rows("factory-3-classes", "three:build", _factory(3), THREE, InputError, ("attack", "audit", "physical")),
    Case("factory-3-classes-transfer-source", make=_factory(3), cli=("transfer", "--source", "three:build", "--target", "{run}", "--out", "tr", "--quiet"), error=InputError, phrase="predicts 3 classes but digits has 10"),
    Case("factory-3-classes-detect-fit", make=_factory(3), cli=("detect", "fit", "--model", "three:build", "--detector", "kde-bu", "--out", "det", "--quiet"), error=InputError, phrase=THREE),
    Case(
        "npz-labels-90-99-on-a-10-class-model",
        make=lambda c: f.npz(c.tmp / "d.npz", x=f.images(20)["x"], y=np.arange(20) % 10 + 90),
        cli=_attack("{run}", "--data", "{tmp}/d.npz"),
        error=InputError,
        phrase="predicts 10 classes but d has 100",
    ),
]  # fmt: skip


# -- class 8: input shapes the model cannot take ----------------------------------------------------


def _as_oracle(access: str) -> Any:
    def call(c: Ctx) -> Any:
        from feint.oracles import as_oracle

        return as_oracle(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), access=access, input_shape=(1, 28, 28))

    return call


SHAPE = r"the model cannot take inputs of shape \(1, 28, 28\) .*mat1 and mat2 shapes cannot be multiplied.*pass the input shape"
FOOL = ("fool", "--model", "{run}", "--input-shape", "1,28,28", "--generations", "1", "--out", "fo", "--quiet")

SHAPES = [
    Case("fool-input-shape-direct", cli=FOOL, error=InputError, phrase=SHAPE),
    Case("fool-input-shape-cppn", cli=(*FOOL, "--method", "cppn"), error=InputError, phrase=SHAPE),
    Case("fool-input-shape-gradient", cli=(*FOOL, "--method", "gradient"), error=InputError, phrase=SHAPE),
    Case("fool-input-shape-3-channels", cli=(*FOOL[:4], "3,8,8", *FOOL[5:]), error=InputError, phrase=r"cannot take inputs of shape \(3, 8, 8\)"),
    Case("fool-input-shape-onnx", make=_onnx(h.onnx_classifier), cli=("fool", "--model", "{tmp}/m.onnx", "--input-shape", "1,28,28", "--out", "fo"), error=InputError, phrase=r"takes inputs of shape \['N', 1, 8, 8\], which does not fit images of shape \[1, 28, 28\]"),
    Case("py-as-oracle-scores-shape", call=_as_oracle("scores"), error=InputError, phrase=SHAPE),
    Case("py-as-oracle-labels-shape", call=_as_oracle("labels"), error=InputError, phrase=SHAPE),
]  # fmt: skip

ROWS = [*CODE_IN_FILES, *UNBOUNDED_MODELS, *SHAPES]
