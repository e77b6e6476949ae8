"""``feint patch`` end to end on the digits LeNet: report.json (schema-valid), report.html and the
pattern as .npz that another tool can apply; bad input is one ``error:`` line and exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from feint.capabilities.patch.report import REPORT_SCHEMA
from feint.cli import main
from feint.models import save_model
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, lenet_digits, digits_test):
    folder = tmp_path_factory.mktemp("patch") / "lenet"
    save_model(lenet_digits, folder, arch="lenet", data=digits_test.info.to_dict())
    return folder


def invoke(*args: str):
    return CliRunner().invoke(main, [*args, "--quiet"])


@pytest.mark.parametrize(
    "options",
    [
        ["--kind", "sticker", "--target", "5", "--source", "3", "--mask", "strips", "--area", "0.25"],
        ["--kind", "universal", "--eps", "0.2", "--norm", "inf"],
    ],
    ids=["sticker", "universal"],
)
def test_feint_patch_writes_the_report_and_the_pattern(model_dir, tmp_path, options, lenet_digits, digits_test):
    out = tmp_path / "out"
    result = invoke("patch", "--model", str(model_dir), *options, "--steps", "8", "--draws", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "held-out success" in result.output
    report = json.loads((out / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == []
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    saved = np.load(out / "pattern.npz", allow_pickle=False)
    kind = str(saved["kind"])
    assert kind == report["kind"] and {"pattern", "mask", "held_out_ids", "fit_ids"} <= set(saved.files)
    held, fit = saved["held_out_ids"], saved["fit_ids"]
    assert len(held) == report["split"]["held_out"] and not set(held) & set(fit)
    # another tool applies the saved pattern and finds the report's figure
    x = digits_test.x[torch.from_numpy(held)]
    pattern = torch.from_numpy(saved["pattern"])
    if kind == "sticker":
        mask = torch.from_numpy(saved["mask"])
        assert float(mask.mean()) == pytest.approx(report["pattern"]["area"]) and float(mask.mean()) <= 0.25
        applied = x * (1 - mask) + pattern * mask
        hit = lenet_digits(applied).argmax(1) == 5
        assert float(hit.float().mean()) == pytest.approx(report["success"]["rate"], abs=1e-6)
    else:
        assert float(pattern.abs().max()) <= 0.2 + 1e-6
        y = digits_test.y[torch.from_numpy(held)]
        ok = lenet_digits(x).argmax(1) == y
        hit = lenet_digits((x + pattern).clamp(0, 1)).argmax(1) != y
        assert float(hit[ok].float().mean()) == pytest.approx(report["success"]["rate"], abs=1e-6)


def _error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]


def test_bad_input_is_one_clear_error(model_dir, tmp_path):
    base = ["patch", "--model", str(model_dir), "--steps", "1", "--out", str(tmp_path / "o")]
    _error(invoke(*base, "--area", "1.5"), "--area", "strictly between 0 and 1")
    _error(invoke(*base, "--area", "0"), "strictly between 0 and 1")
    np.save(tmp_path / "small.npy", np.ones((4, 4), dtype=np.float32))
    _error(invoke(*base, "--kind", "sticker", "--mask", str(tmp_path / "small.npy")), "4x4 px", "8x8")
    np.save(tmp_path / "zero.npy", np.zeros((8, 8), dtype=np.float32))
    _error(invoke(*base, "--kind", "sticker", "--mask", str(tmp_path / "zero.npy")), "all zero")
    (tmp_path / "palette.json").write_text('{"colours": "red"}')
    _error(invoke(*base, "--kind", "sticker", "--palette", str(tmp_path / "palette.json")), "not a list of colours")
    _error(invoke(*base, "--kind", "universal"), "--eps")
    _error(invoke(*base, "--target", "12"), "target")
