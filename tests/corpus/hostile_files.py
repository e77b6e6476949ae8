"""Fixture generators for hostile or broken model files (issue 19): written on the fly, never kept in git.

- :func:`endless_loop_onnx`: a valid ONNX classifier whose ``Loop`` never ends (trip count 2**62,
  condition always true);
- :func:`failing_onnx`: a valid ONNX graph that fails when run (a Reshape to an impossible size);
- :func:`onnx_classifier`: a plain linear ONNX classifier of ``classes`` outputs on 8x8 inputs;
- :func:`hostile_skops`: a ``.skops`` file of scikit-learn types only whose pipeline writes
  ``target`` when it predicts (``FunctionTransformer(func=sklearn.datasets.dump_svmlight_file)``);
- :func:`sklearn_skops`: a benign fitted classifier, optionally behind a ``FunctionTransformer``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _onnx_model(nodes: list[Any], *, classes: int = 10, extra_inputs: tuple[Any, ...] = ()) -> Any:
    from onnx import TensorProto as T
    from onnx import helper as h

    graph = h.make_graph(
        nodes,
        "feint-fixture",
        [h.make_tensor_value_info("x", T.FLOAT, ["N", 1, 8, 8]), *extra_inputs],
        [h.make_tensor_value_info("logits", T.FLOAT, ["N", classes])],
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def _weights(name: str, classes: int, seed: int = 0) -> Any:
    from onnx import TensorProto as T
    from onnx import helper as h

    w = np.random.default_rng(seed).normal(size=(64, classes)).astype(np.float32)
    return h.make_node("Constant", [], [name], value=h.make_tensor(name, T.FLOAT, [64, classes], w.ravel()))


def onnx_classifier(path: Path, *, classes: int = 10) -> Path:
    from onnx import helper as h

    nodes = [
        h.make_node("Flatten", ["x"], ["flat"]),
        _weights("w", classes),
        h.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    path.write_bytes(_onnx_model(nodes, classes=classes).SerializeToString())
    return path


def endless_loop_onnx(path: Path) -> Path:
    from onnx import TensorProto as T
    from onnx import helper as h

    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]), h.make_node("Identity", ["acc_in"], ["acc_out"])],
        "forever",
        [
            h.make_tensor_value_info("i", T.INT64, []),
            h.make_tensor_value_info("cond_in", T.BOOL, []),
            h.make_tensor_value_info("acc_in", T.FLOAT, None),
        ],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("acc_out", T.FLOAT, None)],
    )
    nodes = [
        h.make_node("Constant", [], ["trip"], value=h.make_tensor("trip", T.INT64, [], [2**62])),
        h.make_node("Constant", [], ["cond"], value=h.make_tensor("cond", T.BOOL, [], [True])),
        h.make_node("Flatten", ["x"], ["flat"]),
        h.make_node("Loop", ["trip", "cond", "flat"], ["looped"], body=body),
        _weights("w", 10),
        h.make_node("MatMul", ["looped", "w"], ["logits"]),
    ]
    path.write_bytes(_onnx_model(nodes).SerializeToString())
    return path


def failing_onnx(path: Path) -> Path:
    from onnx import TensorProto as T
    from onnx import helper as h

    nodes = [
        h.make_node("Constant", [], ["shape"], value=h.make_tensor("shape", T.INT64, [2], [-1, 7])),
        h.make_node("Reshape", ["x", "shape"], ["odd"]),  # 64 values per row do not split into rows of 7
        h.make_node("Flatten", ["odd"], ["flat"]),
        h.make_node("Constant", [], ["w"], value=h.make_tensor("w", T.FLOAT, [7, 10], np.zeros(70, np.float32))),
        h.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    path.write_bytes(_onnx_model(nodes).SerializeToString())
    return path


def _digits(classes: int = 10, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep = y < classes
    return x[keep][:300] / 16.0, y[keep][:300] + offset


def sklearn_skops(path: Path, *, classes: int = 10, offset: int = 0, transformer: bool = False) -> Path:
    """A fitted LogisticRegression on digits (``classes`` classes, labels shifted by ``offset``), behind a
    ``FunctionTransformer(np.log1p)`` when ``transformer``: harmless, but a callable feint does not trust."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = _digits(classes, offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model: Any = LogisticRegression(max_iter=200).fit(x, y)
        if transformer:
            model = make_pipeline(FunctionTransformer(func=np.log1p), LogisticRegression(max_iter=200)).fit(x, y)
    sio.dump(model, path)
    return path


def hostile_skops(path: Path, target: Path) -> Path:
    """A pipeline whose first step writes ``target`` (svmlight text of the inputs) on every predict."""
    import skops.io as sio
    from sklearn.datasets import dump_svmlight_file
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = _digits()
    write = FunctionTransformer(func=dump_svmlight_file, kw_args={"y": np.zeros(1), "f": str(target)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_pipeline(write, LogisticRegression(max_iter=50))
        model.steps[1][1].fit(x, y)
    sio.dump(model, path)
    return path


def custom_op_onnx(path: Path, *, domain: str = "ai.evil.python", op: str = "PyExec") -> Path:
    """A graph whose one node is an operator of a custom domain (onnxruntime's way to call out to
    a library or Python): feint registers no custom operator library, so the file cannot load code."""
    from onnx import helper as h

    node = h.make_node(op, ["x"], ["logits"], domain=domain, command="import os; os.system('touch executed.txt')")
    model = _onnx_model([node])
    model.opset_import.append(h.make_opsetid(domain, 1))
    path.write_bytes(model.SerializeToString())
    return path


EVIL_MODULE = "import pathlib\npathlib.Path('executed.txt').write_text('imported')\n\ndef build():\n    return None\n"


def evil_module(folder: Path, name: str = "evil") -> str:
    """A module beside the files that writes ``executed.txt`` when imported; returns ``name:build``."""
    (folder / f"{name}.py").write_text(EVIL_MODULE)
    return f"{name}:build"


def detector_naming(folder: Path, model: str, *, kind: str = "mutation") -> Path:
    """A detector folder whose detector.json names ``model`` (as feint before issue 19 recorded it)."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"kind": kind, "settings": {}, "learned": {}, "model_fingerprint": "0" * 64, "extra": {"model": model}}
    (folder / "detector.json").write_text(json.dumps(doc))
    return folder
