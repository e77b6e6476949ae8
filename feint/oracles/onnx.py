"""An ONNX file behind an oracle, run by onnxruntime on the CPU.

The input's shape, layout and element type are read from the file (:class:`InputLayout`); the
graph must have one input. Outputs: one tensor, or scikit-learn's pair from skl2onnx (a label
and a probability output, where the probabilities win; a ZipMap of per-class dicts is read
too). A float (N, K) output gives a :class:`ScoreOracle` (probabilities when its name says
``prob``, else logits; ``output=`` overrides), an integer (N,) output a :class:`LabelOracle`.

Every run of the graph is bounded: a watchdog sets onnxruntime's ``RunOptions.terminate`` after
:func:`run_timeout` seconds (``FEINT_ONNX_TIMEOUT``, default 60), so a graph with an endless
``Loop`` ends in one :class:`~feint.errors.ModelError`, as does a graph that fails at run time.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from feint.env import seconds
from feint.errors import ModelError
from feint.oracles.base import LabelOracle, Oracle, ScoreOracle
from feint.oracles.layout import InputLayout
from feint.validation import Bounds

TIMEOUT_ENV = "FEINT_ONNX_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0


def run_timeout() -> float:
    """Seconds one run of an ONNX graph may take: ``FEINT_ONNX_TIMEOUT``, else 60."""
    return seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)


def run_session(session: Any, outputs: list[str], feeds: dict[str, np.ndarray], path: Path) -> list[Any]:
    """``session.run`` stopped after :func:`run_timeout` seconds; every failure is one ModelError."""
    import onnxruntime as ort

    limit = run_timeout()
    options = ort.RunOptions()
    options.log_severity_level = 4  # the error is raised below, not logged by onnxruntime as well
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        options.terminate = True

    watchdog = threading.Timer(limit, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        return session.run(outputs, feeds, options)  # type: ignore[no-any-return]
    except Exception as exc:  # onnxruntime's Fail, InvalidArgument, RuntimeException, ...
        rows = next(iter(feeds.values())).shape[0]
        if fired.is_set():
            raise ModelError(
                f"{path} ran longer than {limit:g} s on a batch of {rows} inputs and was stopped (an endless Loop?); "
                f"if the model is only slow, raise the limit: {TIMEOUT_ENV}=SECONDS"
            ) from None
        raise ModelError(
            f"{path} failed when onnxruntime ran it on a batch of {rows} inputs ({_ort_message(exc)}); "
            "fix the graph and export it again"
        ) from None
    finally:
        watchdog.cancel()


def _ort_message(exc: Exception) -> str:
    """onnxruntime's message without its error-code prefix and C++ source locations, on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"Status Message: /\S+:\d+ .*?\) ", "", text)  # the C++ function that raised
    text = re.sub(r"Non-zero status code returned while running (\w+) node\. Name:'[^']*' ", r"\1 node: ", text)
    return text[:240]


def _session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError("reading ONNX files needs onnxruntime: pip install 'feint[onnx]'") from exc
    if not path.is_file():
        raise ModelError(f"ONNX file {str(path)!r} not found; pass an existing .onnx file to --model")
    options = ort.SessionOptions()
    options.log_severity_level = 4  # errors are raised as one ModelError, not logged to stderr as well
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad file
        # onnxruntime repeats the path; without it the cut keeps the cause however long the path is
        first = str(exc).replace(str(path), path.name).splitlines()[0][:200]
        raise ModelError(f"{path} is not a readable ONNX model ({first}); export it again") from exc


def _pick_output(session: Any, path: Path) -> tuple[int, str]:
    """Index of the output to use and its kind: "scores", "zipmap" or "labels"."""
    kinds = []
    for out in session.get_outputs():
        if out.type.startswith("seq(map("):
            kinds.append("zipmap")
        elif out.type in ("tensor(float)", "tensor(double)", "tensor(float16)") and len(out.shape or []) == 2:
            kinds.append("scores")
        elif out.type in ("tensor(int64)", "tensor(int32)") and len(out.shape or []) in (1, 2):
            kinds.append("labels")
        else:
            kinds.append("other")
    names = [f"{o.name} {o.type} {o.shape}" for o in session.get_outputs()]
    scores = [i for i, k in enumerate(kinds) if k in ("scores", "zipmap")]
    if len(kinds) == 1 and kinds[0] != "other":
        return 0, kinds[0]
    if len(kinds) == 2 and len(scores) == 1 and "labels" in kinds:
        return scores[0], kinds[scores[0]]
    raise ModelError(
        f"{path} has outputs {names}; feint needs one output of class scores (N, classes) or labels (N,), "
        "or scikit-learn's label + probability pair: export the classifier's scores alone"
    )


class _OnnxRunner:
    """One onnxruntime session: arranges the inputs, pads to a fixed batch, reads the chosen output."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.session = _session(self.path)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(
                f"{self.path} has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                "feint attacks models with one input: export the classifier with a single image input"
            )
        self.input_name = inputs[0].name
        self.layout = InputLayout.declared(inputs[0].shape, inputs[0].type, source=str(self.path))
        self.output_index, self.kind = _pick_output(self.session, self.path)
        self.output_name = self.session.get_outputs()[self.output_index].name
        shape = self.session.get_outputs()[self.output_index].shape or []
        self.num_classes = shape[1] if self.kind == "scores" and isinstance(shape[-1], int) and shape[1] > 1 else None

    def run(self, x: Tensor) -> np.ndarray:
        arr = self.layout.arrange(x)
        n, fixed = arr.shape[0], self.layout.batch
        if fixed is not None and n < fixed:  # a graph exported with a fixed batch size
            arr = np.concatenate([arr, np.repeat(arr[-1:], fixed - n, axis=0)])
        out = run_session(self.session, [self.output_name], {self.input_name: arr}, self.path)[0]
        if self.kind == "zipmap":
            keys = sorted(out[0])
            out = np.array([[row[k] for k in keys] for row in out], dtype=np.float32)
        return np.asarray(out)[:n]


class OnnxScoreOracle(ScoreOracle):
    """Class scores from an ONNX classifier."""

    def __init__(self, runner: _OnnxRunner, *, output: str, **kwargs: Any) -> None:
        super().__init__(output=output, **kwargs)
        self.runner = runner

    def _scores(self, x: Tensor) -> Tensor:
        return torch.from_numpy(np.asarray(self.runner.run(x), dtype=np.float32))


class OnnxLabelOracle(LabelOracle):
    """Only the labels an ONNX classifier outputs."""

    def __init__(self, runner: _OnnxRunner, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = runner

    def _labels(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.runner.run(x).reshape(-1).astype(np.int64))


def onnx_oracle(
    path: str | os.PathLike[str],
    *,
    access: str | None = None,
    output: str | None = None,
    bounds: Bounds = (0.0, 1.0),
    max_queries: int | None = None,
    num_classes: int | None = None,
) -> Oracle:
    """An oracle over the ONNX file ``path``: score access when the graph outputs scores (unless
    ``access="labels"``), label access when it outputs only labels."""
    runner = _OnnxRunner(path)
    common: dict[str, Any] = {
        "input_shape": runner.layout.row_shape,
        "bounds": bounds,
        "max_queries": max_queries,
        "num_classes": num_classes or runner.num_classes,
        "batch_size": runner.layout.batch or 1024,
        "name": runner.path.name,
    }
    if runner.kind == "labels" or access == "labels":
        if runner.kind != "labels":
            from feint.oracles.base import LabelsOf

            score = OnnxScoreOracle(runner, output="logits", **{**common, "max_queries": None})
            return LabelsOf(score, max_queries=max_queries)
        return OnnxLabelOracle(runner, **common)
    if output is None:
        output = "probabilities" if runner.kind == "zipmap" or "prob" in runner.output_name.lower() else "logits"
    return OnnxScoreOracle(runner, output=output, **common)
