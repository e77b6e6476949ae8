"""README's guarantee "nothing read from a file is executed", shown for every kind of file feint reads
a model from: skops files, ONNX files, detector folders and model directories.

Each hostile file names code that would leave a mark (a file written, a module imported) if feint
ran it. Each case checks the one clear error, that no mark appeared and that the named module was
never imported. The skops payload is first shown to be live: loaded with ``trust=True`` it does
write its file when the model predicts, which is why it must be refused without.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from corpus.hostile_files import (
    custom_op_onnx,
    detector_naming,
    endless_loop_onnx,
    evil_module,
    hostile_skops,
    sklearn_skops,
)

from feint.cli import main
from feint.detectors import load_detector
from feint.errors import ModelError
from feint.models import resolve
from feint.models.files import load_skops
from feint.models.io import save_model

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_torch_thread")]
MARK = "executed.txt"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's folder as the working directory, importable as a user's modules would be."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    yield tmp_path
    sys.modules.pop("evil", None)


def _refused(args: list[str], phrase: str) -> str:
    result = CliRunner().invoke(main, args)
    err = result.stderr.strip()
    assert result.exit_code == 2 and err.count("\n") == 0 and phrase in err, (result.exit_code, err)
    return err


def test_a_skops_file_of_sklearn_types_that_runs_code_is_refused(in_tmp: Path) -> None:
    payload = hostile_skops(in_tmp / "model.skops", in_tmp / MARK)
    for args in (
        ["attack", "--model", str(payload), "--attack", "square", "--n-inputs", "4"],
        ["fool", "--model", str(payload), "--out", "fooled", "--generations", "1"],
        ["serve", "--model", str(payload), "--port", "0"],
    ):
        err = _refused(args, "types feint does not trust")
        assert "dump_svmlight_file" in err and "FunctionTransformer" in err and "--trust-file" in err
    assert not (in_tmp / MARK).exists() and sorted(p.name for p in in_tmp.iterdir()) == ["model.skops"]
    live = load_skops(payload, trust=True)  # the payload is real: trusted, it writes its file on predict
    with pytest.raises(Exception):  # noqa: B017  (the pipeline's next step fails on the function's None)
        live.predict(np.zeros((1, 64)))
    assert (in_tmp / MARK).exists()


def test_trust_file_still_loads_a_model_you_made(in_tmp: Path) -> None:
    mine = sklearn_skops(in_tmp / "mine.skops", transformer=True)  # log1p: harmless, but a callable
    _refused(["attack", "--model", str(mine), "--attack", "square", "--n-inputs", "4"], "numpy.log1p")
    args = ["attack", "--model", str(mine), "--attack", "square", "--n-inputs", "4", "--eps", "0.2", "--trust-file"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "adversarial accuracy" in result.output
    plain = sklearn_skops(in_tmp / "plain.skops")
    assert resolve(plain).access == "scores"  # a classifier holding no callable needs no trust


def test_an_onnx_file_can_name_no_code_and_cannot_hang(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = custom_op_onnx(in_tmp / "custom.onnx")
    _refused(["attack", "--model", str(custom), "--n-inputs", "4"], "is not a registered function/op")
    monkeypatch.setenv("FEINT_ONNX_TIMEOUT", "1")
    looped = endless_loop_onnx(in_tmp / "loop.onnx")
    _refused(["attack", "--model", str(looped), "--n-inputs", "4"], "ran longer than 1 s")
    assert not (in_tmp / MARK).exists()


def test_a_detector_folder_never_names_the_model(in_tmp: Path, trained_softmax: Path) -> None:
    det = detector_naming(in_tmp / "det", evil_module(in_tmp))
    err = _refused(["detect", "eval", "--detector", str(det), "--out", "report"], "pass --model")
    assert "names 'evil:build', which feint never loads" in err
    serve = ["serve", "--model", str(trained_softmax), "--detector", str(det), "--port", "0"]
    _refused(serve, "fitted on another model")
    with pytest.raises(ModelError, match="fitted on another model"):
        load_detector(det, resolve(trained_softmax).module)  # type: ignore[arg-type]
    assert "evil" not in sys.modules and not (in_tmp / MARK).exists()


def test_a_fitted_detector_folder_records_no_model(in_tmp: Path, trained_softmax: Path) -> None:
    fit = ["detect", "fit", "--model", str(trained_softmax), "--detector", "kde-bu", "--n-inputs", "200"]
    result = CliRunner().invoke(main, [*fit, "--param", "mc_samples=5", "--out", "det", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((in_tmp / "det" / "detector.json").read_text())
    assert "model" not in doc["extra"] and "weights" not in doc["extra"] and str(trained_softmax) not in json.dumps(doc)


def test_a_model_directory_names_no_code(in_tmp: Path, trained_softmax: Path) -> None:
    config = json.loads((trained_softmax / "config.json").read_text())
    evil = evil_module(in_tmp)
    for name, changes, phrase in (
        ("arch", {"arch": evil}, "unknown architecture 'evil:build'"),
        ("module", {"arch": None, "module": "evil.build"}, "not of a feint architecture"),
    ):
        folder = in_tmp / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
        (folder / "weights.safetensors").write_bytes((trained_softmax / "weights.safetensors").read_bytes())
        _refused(["attack", "--model", str(folder), "--n-inputs", "4"], phrase)
    assert "evil" not in sys.modules and not (in_tmp / MARK).exists()


@pytest.fixture(scope="module")
def trained_softmax(tmp_path_factory: pytest.TempPathFactory, digits_train, digits_test) -> Path:
    from feint.training import train

    out = tmp_path_factory.mktemp("softmax") / "run"
    model = train("softmax", digits_train, digits_test, epochs=2, lr=0.01, progress=False).model
    save_model(model, out, arch="softmax", data=digits_train.info.to_dict())
    return out
