"""Model files as oracles: scikit-learn through skops (and pickles refused), ONNX through onnxruntime."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from helpers import export_onnx
from torch import nn

from feint.attacks import square
from feint.data import Dataset
from feint.errors import InputError, ModelError
from feint.models import resolve, resolve_model
from feint.oracles import LabelOracle, ScoreOracle
from feint.oracles.onnx import onnx_oracle
from feint.oracles.sklearn import sklearn_oracle

pytestmark = pytest.mark.filterwarnings("ignore")


def _flat(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return data.x.flatten(1).double().numpy(), data.y.numpy()


@pytest.fixture(scope="module")
def estimators(digits_train: Dataset) -> dict[str, object]:
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    x, y = _flat(digits_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "mlp": MLPClassifier(hidden_layer_sizes=(32,), max_iter=120, random_state=0).fit(x, y),
            "svc": SVC(gamma="scale", random_state=0).fit(x, y),
        }


@pytest.mark.parametrize("name", ["mlp", "svc"])
def test_sklearn_from_skops_is_attacked_through_its_oracle(estimators, digits_test, tmp_path, name) -> None:
    import skops.io as sio

    path = tmp_path / f"{name}.skops"
    sio.dump(estimators[name], path)
    loaded = resolve(path)
    assert loaded.module is None and loaded.access == "scores" and loaded.source == "skops"
    oracle = loaded.oracle
    assert isinstance(oracle, ScoreOracle)
    assert oracle.output == ("probabilities" if name == "mlp" else "logits")
    x, y = digits_test.x[:40], digits_test.y[:40]
    want = estimators[name].predict(x.flatten(1).double().numpy())  # type: ignore[attr-defined]
    assert np.array_equal(oracle.labels(x).numpy(), want) and oracle.queries == 40
    correct = oracle.labels(x) == y
    result = square(oracle, x[correct], y[correct], eps=0.3, n_queries=200, seed=0)
    assert result.access == "scores" and result.success.float().mean() > 0.5
    assert result.queries == oracle.queries - 80  # every row counted, the final check included


def test_label_only_estimator_and_flattening(estimators, digits_test) -> None:
    oracle = sklearn_oracle(estimators["svc"], access="labels")
    assert isinstance(oracle, LabelOracle) and not isinstance(oracle, ScoreOracle)
    x = digits_test.x[:5]
    assert oracle.labels(x).tolist() == estimators["svc"].predict(x.flatten(1).numpy()).tolist()  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="takes 64 features"):
        oracle.labels(torch.rand(2, 1, 4, 4))


def test_pickles_are_refused_without_trust(estimators, tmp_path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(estimators["svc"]))
    with pytest.raises(ModelError, match=r"runs any code the file contains.*--trust-file"):
        resolve(path)
    assert resolve(path, trust=True).access == "scores"


def test_skops_refuses_foreign_types(tmp_path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "f.skops"
    sio.dump(FunctionTransformer(func=json.dumps), path)
    with pytest.raises(ModelError, match=r"types feint does not trust \(json\.dumps, sklearn\..*FunctionTransformer\)"):
        resolve(path)
    (tmp_path / "bad.skops").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable skops file"):
        resolve(tmp_path / "bad.skops")


def test_skl2onnx_export_answers_like_the_estimator(estimators, digits_test, tmp_path) -> None:
    from skl2onnx import to_onnx

    est = estimators["mlp"]
    x = digits_test.x[:20]
    onx = to_onnx(est, x.flatten(1).numpy().astype(np.float32))
    path = tmp_path / "mlp.onnx"
    path.write_bytes(onx.SerializeToString())
    loaded = resolve(path)
    assert loaded.module is None and loaded.access == "scores" and "not converted" in loaded.note
    oracle = loaded.oracle
    assert isinstance(oracle, ScoreOracle) and oracle.output == "probabilities"
    probs = oracle.scores(x).double().numpy()
    assert np.abs(probs - est.predict_proba(x.flatten(1).numpy())).max() < 1e-4  # type: ignore[attr-defined]


def test_torch_onnx_round_trip_and_square_through_onnxruntime(lenet_digits, digits_test, tmp_path) -> None:
    path = tmp_path / "lenet.onnx"
    export_onnx(lenet_digits, path)
    oracle = onnx_oracle(path)
    x, y = digits_test.x[:64], digits_test.y[:64]
    with torch.no_grad():
        want = lenet_digits(x)
    assert isinstance(oracle, ScoreOracle) and oracle.output == "logits" and oracle.input_shape == (1, 8, 8)
    assert (oracle.scores(x) - want).abs().max() < 1e-4
    correct = want.argmax(1) == y
    result = square(oracle, x[correct], y[correct], eps=0.2, n_queries=150, seed=0)
    assert result.success.float().mean() > 0.5
    white = resolve(path)  # onnx2torch converts this graph: white-box access, said so
    assert white.access == "white-box" and "onnx2torch" in white.note
    assert torch.allclose(white.module(x), want, atol=1e-4)  # type: ignore[misc]
    assert resolve(path, convert=False).access == "scores"


def test_onnx_bad_files_get_one_clear_error(lenet_digits, tmp_path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        onnx_oracle(bad)

    class TwoInputs(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a + b).flatten(1)[:, :3]

    two = tmp_path / "two.onnx"
    torch.onnx.export(TwoInputs(), (torch.rand(1, 1, 2, 2), torch.rand(1, 1, 2, 2)), str(two), dynamo=False)
    with pytest.raises(ModelError, match="has 2 inputs"):
        onnx_oracle(two)
    fixed = tmp_path / "fixed.onnx"
    export_onnx(lenet_digits, fixed, dynamic=False)
    loaded = resolve(fixed)  # a fixed batch of 2: stays an oracle, which pads the last request
    assert loaded.access == "scores" and "fixed batch" in loaded.note
    assert loaded.oracle.scores(torch.rand(3, 1, 8, 8)).shape == (3, 10)  # type: ignore[union-attr]
    with pytest.raises(ModelError, match="needs a white-box torch model"):
        resolve_model(fixed)
