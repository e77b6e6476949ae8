"""``feint certify`` and ``feint audit --certify`` end to end on a tiny digits model trained with noise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from torch import nn

from feint.cli import main
from feint.data import Dataset
from feint.models import save_model
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# 24 inputs in groups of 5 (64 passes of 20 rows hold 5 inputs' 220 draws): five saved groups
CERTIFY = ("--n-inputs", "24", "--sigma", "0.25", "--n-samples", "200", "--n0", "20", "--batch-size", "20", "--quiet")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, noisy_softmax_digits: nn.Module, digits_test: Dataset) -> Path:
    folder = tmp_path_factory.mktemp("certify") / "noisy"
    save_model(noisy_softmax_digits, folder, arch="softmax", data=digits_test.info.to_dict())
    return folder


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _figures(folder: Path) -> dict[str, Any]:
    from feint.capabilities.certify.report import REPORT_SCHEMA

    report = json.loads((folder / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == []
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    return {k: report[k] for k in ("accuracy", "abstain_rate", "certified", "curve", "per_input")}


def test_certify_writes_its_report_and_resumes_with_the_same_figures(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = invoke("certify", "--model", str(model_dir), *CERTIFY, "--out", str(tmp_path / "whole"))
    assert whole.exit_code == 0, whole.output
    assert "certified accuracy" in whole.output and "smoothed classifier" in whole.output
    figures = _figures(tmp_path / "whole")
    assert figures["accuracy"]["smoothed"] > 0.5 and figures["certified"]["accuracy"][0] > 0.3
    page = (tmp_path / "whole" / "report.html").read_text()
    assert "says nothing about the base model" in page and "probability at least 0.999" in page

    import feint.capabilities.certify.measure as measure

    real, calls = measure._certify_group, []

    def killed_after_two(*args: Any) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(measure, "_certify_group", killed_after_two)
    stopped = invoke("certify", "--model", str(model_dir), *CERTIFY, "--out", str(tmp_path / "killed"))
    assert stopped.exit_code == 130 and not (tmp_path / "killed" / "report.json").exists()
    saved = json.loads((tmp_path / "killed" / "certify_state" / "state.json").read_text())
    assert sorted(saved["groups"]) == ["0", "1"]
    monkeypatch.setattr(measure, "_certify_group", real)
    resumed = invoke("certify", "--model", str(model_dir), *CERTIFY, "--out", str(tmp_path / "killed"))
    assert resumed.exit_code == 0, resumed.output
    assert _figures(tmp_path / "killed") == figures
    assert json.loads((tmp_path / "killed" / "report.json").read_text())["timings"]["resumed_groups"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sigma", "0"), "sigma (the noise level of randomized smoothing) must be a finite number > 0"),
        (("--sigma", "0.25", "--n0", "300", "--n-samples", "200"), "n0 (300) must not exceed n (200)"),
        (("--sigma", "0.25", "--alpha", "1"), "alpha (the probability that a certificate is wrong) must lie strictly"),
    ],
)
def test_certify_refuses_bad_settings_in_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke("certify", "--model", str(tmp_path / "absent"), *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and result.output.startswith("error: ") and message in result.output
    assert result.output.count("\n") == 1


def test_an_linf_audit_refuses_a_certified_radius(tmp_path: Path) -> None:
    result = invoke("audit", "--model", str(tmp_path / "absent"), "--certify", "0.25", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "randomized smoothing certifies L2 here" in result.output and "--norm 2" in result.output


def test_an_l2_audit_with_certify_reports_the_interval(model_dir: Path, tmp_path: Path) -> None:
    from feint.capabilities.audit.schema import REPORT_SCHEMA

    out = tmp_path / "audit"
    args = ("--norm", "2", "--eps", "0,0.5", "--n-inputs", "10", "--preset", "quick", "--eot-samples", "2")
    result = invoke(
        "audit", "--model", str(model_dir), *args, "--redraws", "2", "--certify", "0.25", "--certify-samples",
        "200", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "robustness interval of the smoothed classifier" in result.output
    report = json.loads((out / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == []
    interval = report["interval"]
    assert interval["eps"] == [0.0, 0.5] and interval["sigma"] == 0.25 and interval["n"] == 200 and interval["eot"]
    for low, high in zip(interval["certified"], interval["empirical"], strict=True):
        assert 0 <= low <= high <= 1
    assert interval["certified"][1] < interval["certified"][0]
    page = (out / "report.html").read_text()
    assert 'id="interval"' in page and "unknown" in page
    assert "attacks (upper)" in page and "certified (lower)" in page
