"""``feint detect fit | eval`` end to end on digits: the detector folder, report.json + report.html, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from feint.capabilities.detect.schema import REPORT_SCHEMA
from feint.cli import main
from feint.report.schema import validate

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
EVAL = [
    "--n-inputs",
    "90",
    "--attacks",
    "fgsm,pgd,cw",
    "--param",
    "cw.binary_steps=3",
    "--param",
    "cw.steps=30",
    "--quiet",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect") / "run"
    args = ["train", "--arch", "lenet", "--epochs", "10", "--lr", "0.003", "--out", str(out), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    return out


def _fit(run_dir: Path, kind: str, out: Path, *params: str) -> None:
    args = [
        "detect",
        "fit",
        "--model",
        str(run_dir),
        "--detector",
        kind,
        "--n-inputs",
        "700",
        "--out",
        str(out),
        "--quiet",
    ]
    result = CliRunner().invoke(main, args + [f"--param={p}" for p in params])
    assert result.exit_code == 0, result.output
    assert f"detector saved to {out}" in result.output


@pytest.mark.parametrize(
    ("kind", "params", "extra"),
    [
        ("mutation", ("n_mutants=60",), ["--kappa", "8"]),
        ("kde-bu", ("mc_samples=20", "attacks=fgsm"), ["--adaptive-steps", "20"]),
    ],
)
def test_fit_then_eval_writes_a_valid_report(
    run_dir: Path, tmp_path: Path, kind: str, params: tuple[str, ...], extra: list[str]
) -> None:
    det = tmp_path / "det"
    _fit(run_dir, kind, det, *params)
    assert (det / "detector.json").is_file() and (det / "state.safetensors").is_file()
    if kind == "mutation":
        assert (det / "mutants.safetensors").is_file() and (det / "mutants.json").is_file()
    out = tmp_path / "report"
    args = ["detect", "eval", "--detector", str(det), "--model", str(run_dir), "--out", str(out), *EVAL, *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "ROC-AUC" in result.output and "report:" in result.output
    report = json.loads((out / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == []
    assert set(report["attacks"]) == {"fgsm", "pgd", "cw"}
    assert report["attacks"]["pgd"]["roc_auc"] > 0.8
    assert len(report["adaptive"]) == 1 and report["adaptive"][0]["drop"]["roc_auc"] is not None
    assert (report["sprt"] is not None) == (kind == "mutation")
    html = (out / "report.html").read_text()
    for title in ("Detection per attack", "Natural misclassifications", "Adaptive attacks", "data:image/png;base64"):
        assert title in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    # the budget every attack ran under is stated (cw has none: it finds its own L2 size)
    assert f"attacks at eps {report['settings']['eps']:g}" in html and "Attack budgets" in html
    assert f"Linf eps {report['settings']['eps']:g}" in html and "the smallest L2 perturbation it finds" in html


def test_detect_errors_are_one_line_with_exit_code_2(run_dir: Path, tmp_path: Path) -> None:
    det = tmp_path / "det"
    _fit(run_dir, "mutation", det, "n_mutants=20")
    other = tmp_path / "other"
    train = ["train", "--arch", "lenet", "--epochs", "1", "--seed", "1", "--out", str(other), "--quiet"]
    assert CliRunner().invoke(main, train).exit_code == 0
    cases = [
        (
            ["detect", "eval", "--detector", str(det), "--model", str(other), "--out", str(tmp_path / "r")],
            "another model",
        ),
        (["detect", "fit", "--model", str(run_dir), "--detector", "mutation", "--out", str(det)], "--overwrite"),
        (
            ["detect", "fit", "--model", str(run_dir), "--detector", "kde-bu", "--param", "rate=0.1", "--out", "x"],
            "no setting rate",
        ),
        (
            ["detect", "fit", "--model", str(run_dir), "--detector", "mutation", "--param", "rate=2", "--out", "x"],
            "mutation rate must lie in (0, 1]",
        ),
        (["detect", "eval", "--detector", str(det), "--eps", "a", "--out", "x"], "--eps"),
        (["detect", "eval", "--detector", str(det), "--attacks", "nope", "--out", "x"], "unknown attack 'nope'"),
        (["detect", "eval", "--detector", str(tmp_path / "none"), "--out", "x"], "no detector folder"),
    ]
    for args, needle in cases:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output, (args, result.output)
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")
