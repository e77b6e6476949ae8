"""A model behind an HTTP endpoint of the Open Inference Protocol (KServe v2), as an oracle.

The model metadata fixes everything: the input's shape (NCHW batches are reshaped to it, e.g.
flat features for a scikit-learn model) and datatype, and the output to read. A float output of
shape (-1, K) gives a :class:`ScoreOracle` (probabilities when its name says ``prob``, else
logits); otherwise an integer output of shape (-1,) gives a :class:`LabelOracle`. Rows go in
requests of ``batch_size``; a 413 halves it. ``rows_sent`` says how many rows the server was
sent (retries included); ``queries`` counts each row once, against the budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError, ModelError
from feint.oracles.base import LabelOracle, Oracle, ScoreOracle
from feint.oracles.layout import InputLayout
from feint.oracles.v2client import TooLarge, V2Client
from feint.validation import Bounds

SCORE_TYPES = ("FP32", "FP64", "FP16")
LABEL_TYPES = ("INT64", "INT32", "INT16", "INT8", "UINT8")


def _pick_output(outputs: list[Any], url: str) -> tuple[str, str, int | None]:
    """(name, "scores" or "labels", number of classes or None) of the output to read."""
    scores, labels = [], []
    for out in outputs:
        if not isinstance(out, dict) or not isinstance(out.get("shape"), list):
            raise ModelError(f"{url} lists an output without a shape ({out!r}); it is not a v2 model endpoint")
        shape, dtype = out["shape"], out.get("datatype")
        if dtype in SCORE_TYPES and len(shape) == 2:
            scores.append(
                (str(out.get("name")), "scores", shape[1] if isinstance(shape[1], int) and shape[1] > 0 else None)
            )
        elif dtype in LABEL_TYPES and len(shape) in (1, 2):
            labels.append((str(out.get("name")), "labels", None))
    if scores or labels:
        return (scores or labels)[0]
    raise ModelError(f"{url} has no output of class scores (-1, classes) or labels (-1,): outputs {outputs}")


class _Remote:
    """The endpoint as the oracles use it: the client, the input layout and the chosen output."""

    def __init__(self, url: str, *, timeout: float | None, retries: int, backoff: float, transport: Any) -> None:
        self.client = V2Client(url, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
        meta = self.client.metadata()
        url = self.client.endpoint.url
        if len(meta["inputs"]) != 1 or not isinstance(meta["inputs"][0], dict):
            raise ModelError(f"{url} takes {len(meta['inputs'])} inputs; feint attacks models with one input")
        spec = meta["inputs"][0]
        self.input_name = str(spec.get("name"))
        self.layout = InputLayout.declared(spec.get("shape") or [], str(spec.get("datatype")), source=url)
        self.output_name, self.kind, self.num_classes = _pick_output(meta["outputs"], url)
        self.binary = "binary_tensor_data" in self.client.server_extensions()

    def run(self, oracle: Oracle, x: Tensor) -> np.ndarray:
        """Answers for ``x``; a request refused as too large is split in halves (and the batch size lowered)."""
        try:
            return self.client.infer(self.input_name, self.layout.arrange(x), self.output_name, binary=self.binary)
        except TooLarge:
            if x.shape[0] == 1:
                raise ModelError(f"{self.client.endpoint.url} refuses even one input as too large (413)") from None
            half = x.shape[0] // 2
            oracle.batch_size = max(1, min(oracle.batch_size, half))
            return np.concatenate([self.run(oracle, x[:half]), self.run(oracle, x[half:])])


class _Sent:
    """``rows_sent``: every row put on the wire, retries included."""

    remote: _Remote

    @property
    def rows_sent(self) -> int:
        return self.remote.client.rows_sent


class HttpScoreOracle(_Sent, ScoreOracle):
    """Class scores from a v2 endpoint."""

    def __init__(self, remote: _Remote, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remote = remote

    def _scores(self, x: Tensor) -> Tensor:
        out = self.remote.run(self, x)
        if out.ndim != 2:
            raise ModelError(f"{self.name} answered scores of shape {list(out.shape)}; expected (rows, classes)")
        return torch.from_numpy(out.astype(np.float32))


class HttpLabelOracle(_Sent, LabelOracle):
    """Only labels from a v2 endpoint."""

    def __init__(self, remote: _Remote, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remote = remote

    def _labels(self, x: Tensor) -> Tensor:
        out = self.remote.run(self, x)
        if out.ndim > 2 or (out.ndim == 2 and out.shape[1] != 1):
            raise ModelError(f"{self.name} answered labels of shape {list(out.shape)}; expected (rows,)")
        return torch.from_numpy(out.reshape(-1).astype(np.int64))


def http_oracle(
    url: str,
    *,
    access: str | None = None,
    output: str | None = None,
    bounds: Bounds = (0.0, 1.0),
    max_queries: int | None = None,
    num_classes: int | None = None,
    batch_size: int = 256,
    timeout: float | None = None,
    retries: int = 3,
    backoff: float = 0.2,
    transport: Any = None,
) -> Oracle:
    """An oracle over ``http(s)://host:port/v2/models/NAME``: scores when the server offers them
    (unless ``access="labels"``), else labels. ``timeout``: seconds per request in all (default
    ``FEINT_HTTP_TIMEOUT``, else 30; see :class:`~feint.oracles.v2client.V2Client`)."""
    remote = _Remote(url, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
    common: dict[str, Any] = {
        "input_shape": remote.layout.row_shape,
        "bounds": bounds,
        "max_queries": max_queries,
        "num_classes": num_classes or remote.num_classes,
        "batch_size": remote.layout.batch or batch_size,
        "name": remote.client.endpoint.url,
    }
    if remote.kind == "labels" and access == "scores":
        raise InputError(f"{url} answers only labels; a score-based attack cannot use it")
    if remote.kind == "labels":
        return HttpLabelOracle(remote, **common)
    if access == "labels":
        from feint.oracles.base import LabelsOf

        return LabelsOf(
            HttpScoreOracle(remote, output="logits", **{**common, "max_queries": None}), max_queries=max_queries
        )
    if output is None:
        output = "probabilities" if "prob" in remote.output_name.lower() else "logits"
    return HttpScoreOracle(remote, output=output, **common)
