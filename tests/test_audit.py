"""The audit: report structure, worst case, masking warnings, resume and the CLI."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers import ScaledLogits
from torch import nn

import feint
from feint.attacks.fmn import fmn
from feint.capabilities.audit.presets import get_preset
from feint.capabilities.audit.result import worst_case_accuracy
from feint.capabilities.audit.schema import REPORT_SCHEMA
from feint.data import Dataset
from feint.errors import InputError
from feint.report.report import Report
from feint.report.schema import validate

EPS = (0.0, 0.1, 0.2, 0.3)


def _numbers(report: dict) -> dict:
    """The measured part of a report (no clock, no timings)."""
    keep = ("clean_accuracy", "eps", "baselines", "worst_case", "goodfellow", "per_class", "min_norm", "outcomes")
    attacks = {k: {"accuracy": v["accuracy"], "queries": v["queries"]} for k, v in report["attacks"].items()}
    return {**{k: report[k] for k in keep}, "attacks": attacks, "checks": report["checks"]}


@pytest.fixture(scope="module")
def data(digits_test: Dataset) -> Dataset:
    return digits_test.head(64)


@pytest.fixture(scope="module")
def standard(lenet_digits: nn.Module, data: Dataset, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("standard")
    report = feint.audit(lenet_digits, data.x, data.y, eps=EPS, out=out, data_info=data.info, progress=False)
    return report, out


def test_report_validates_and_html_is_self_contained(standard) -> None:
    report, out = standard
    on_disk = json.loads((out / "report.json").read_text())
    assert validate(on_disk, REPORT_SCHEMA) == []
    assert on_disk == json.loads(json.dumps(report.to_dict()))
    assert on_disk["data"]["name"] == "digits" and on_disk["data"]["n"] == 64
    assert set(on_disk["attacks"]) == {"fmn", "apgd-ce", "apgd-t", "apgd-t #2", "square", "fgsm"}
    html = (out / "report.html").read_text()
    assert report.html_path == out / "report.html"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I)
    assert not re.search(r"<script[^>]*\bsrc=", html, flags=re.I)
    assert "<img" in html  # the gallery and plots are embedded


def test_worst_case_is_below_every_attack_and_the_noise(standard) -> None:
    report, _ = standard
    d = report.to_dict()
    worst = d["worst_case"]["accuracy"]
    for name, attack in d["attacks"].items():
        assert all(w <= a + 1e-9 for w, a in zip(worst, attack["accuracy"], strict=True)), name
    assert all(w <= a + 1e-9 for w, a in zip(worst, d["baselines"]["noise"]["accuracy"], strict=True))
    assert worst[0] == pytest.approx(report["clean_accuracy"])
    assert all(b <= a for a, b in itertools.pairwise(worst))
    assert worst[-1] < 0.1 < report["clean_accuracy"] - 0.5  # a plain LeNet is not robust at eps=0.3
    assert sum(d["worst_case"]["attack_breaking"].values()) == round((worst[0] - worst[-1]) * 64)


def test_minimum_norm_accuracy_is_its_own_at_every_eps(standard, lenet_digits, data) -> None:
    """FMN answers every eps from one run, so its column is its own accuracy, not cut short by the
    inputs another attack broke first at a smaller eps."""
    report, _ = standard
    steps = next(p for p in get_preset("standard").attacks if p.name == "fmn").params["steps"]
    result = fmn(lenet_digits, data.x, data.y, norm="inf", steps=steps)
    with torch.no_grad():
        correct = lenet_digits(data.x).argmax(1) == data.y
    expected = [float((correct & ~(result.success & (result.distance <= e + 1e-6))).float().mean()) for e in EPS]
    got = report.to_dict()["attacks"]["fmn"]["accuracy"]
    assert got == pytest.approx(expected, abs=1.5 / 64)


def test_unscaled_model_gets_no_warning_and_scaled_one_does(standard, lenet_digits, data) -> None:
    report, _ = standard
    assert [c for c in report["checks"] if c["status"] != "pass"] == []
    scaled = feint.audit(ScaledLogits(lenet_digits, 1e4), data.x, data.y, eps=EPS, data_info=data.info, progress=False)
    flagged = {c["name"]: c for c in scaled["checks"] if c["status"] != "pass"}
    assert "gradients are non-zero and finite" in flagged
    # Scale-invariant attacks (targeted DLR, Square, FMN) still break it, as well as the plain model.
    assert worst_case_accuracy(scaled)[-1] < 0.1
    assert worst_case_accuracy(scaled) == pytest.approx(worst_case_accuracy(report), abs=0.1)
    assert scaled.to_dict()["attacks"]["fgsm"]["accuracy"][-1] == pytest.approx(scaled["clean_accuracy"])


def test_interrupted_audit_resumes_to_the_same_numbers(lenet_digits, data, tmp_path: Path) -> None:
    kwargs = {"eps": (0.0, 0.15, 0.3), "preset": "quick", "data_info": data.info, "progress": False}
    full = feint.audit(lenet_digits, data.x, data.y, **kwargs)

    class Stop(Exception):
        pass

    def stop_after_four(key: str, done: int, total: int) -> None:
        if done == 4:
            raise Stop(key)

    with pytest.raises(Stop):
        feint.audit(lenet_digits, data.x, data.y, out=tmp_path, callback=stop_after_four, **kwargs)
    assert not (tmp_path / "report.json").exists()
    state = json.loads((tmp_path / "audit_state" / "state.json").read_text())
    assert len(state["done"]) == 4
    seen: list[str] = []
    resumed = feint.audit(lenet_digits, data.x, data.y, out=tmp_path, callback=lambda k, d, t: seen.append(k), **kwargs)
    assert len(seen) == len(full.to_dict()["eps"]) * 3 - 4  # only the missing units ran
    assert any("resumed 4" in note for note in resumed.notes)
    assert _numbers(resumed.to_dict()) == _numbers(full.to_dict())
    with pytest.warns(UserWarning, match="other settings"):
        changed = feint.audit(lenet_digits, data.x, data.y, out=tmp_path, **{**kwargs, "seed": 1})
    assert any("starting afresh" in note for note in changed.notes)


def test_bad_settings_raise_clear_errors(lenet_digits, data) -> None:
    with pytest.raises(InputError, match="eps"):
        feint.audit(lenet_digits, data.x, data.y, eps=[0.1, -0.1], progress=False)
    with pytest.raises(InputError, match="audit norm"):
        feint.audit(lenet_digits, data.x, data.y, norm="1", progress=False)
    with pytest.raises(InputError, match="preset"):
        feint.audit(lenet_digits, data.x, data.y, preset="fast", progress=False)
    with pytest.raises(InputError, match="bounds"):
        feint.audit(lenet_digits, data.x * 3, data.y, progress=False)


def test_l2_audit_uses_its_own_grid(lenet_digits, data) -> None:
    report = feint.audit(lenet_digits, data.x, data.y, norm="2", preset="quick", data_info=data.info, progress=False)
    assert max(report["eps"]) == pytest.approx(2.0)
    assert worst_case_accuracy(report)[-1] < report["clean_accuracy"]


@pytest.mark.slow
def test_cli_audit_on_a_saved_model(lenet_digits, data, tmp_path: Path) -> None:
    from feint.cli import main
    from feint.models import save_model

    model_dir = save_model(lenet_digits, tmp_path / "model", arch="lenet", data=data.info.to_dict())
    out = tmp_path / "audit"
    args = ["audit", "--model", str(model_dir), "--data", "digits", "--n-inputs", "48", "--eps", "0,0.1,0.2"]
    result = CliRunner().invoke(main, [*args, "--preset", "quick", "--device", "cpu", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "worst-case accuracy" in result.output and "report:" in result.output
    report = json.loads((out / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == [] and report["model"]["name"] == "lenet" and report["data"]["n"] == 48
    again = CliRunner().invoke(main, [*args, "--preset", "quick", "--quiet", "--out", str(out)])
    assert again.exit_code == 0 and "resumed" in again.output
    bad = CliRunner().invoke(main, [*args, "--preset", "quick", "--eps", "0,x", "--out", str(out)])
    assert bad.exit_code == 2 and "--eps" in bad.output


def test_a_log_gets_one_line_per_eps(lenet_digits, data, capsys) -> None:
    feint.audit(lenet_digits, data.x[:16], data.y[:16], eps=EPS, preset="quick", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"audit: eps {e:g} done" for e in EPS]


def test_an_audit_interrupted_while_escalating_resumes_to_the_same_numbers(lenet_digits, data, tmp_path: Path) -> None:
    """The saturated model makes the gradient check warn, so the audit escalates; stop it there and resume."""
    model = ScaledLogits(lenet_digits, 1e4)
    kwargs = {"eps": (0.0, 0.1, 0.2), "data_info": data.info, "progress": False}
    full = feint.audit(model, data.x, data.y, **kwargs)
    assert full.to_dict()["escalation"]["escalated"]

    class Stop(Exception):
        pass

    def stop_when_escalating(key: str, done: int, total: int) -> None:
        if key.startswith("apgd-t #3-9"):
            raise Stop(key)

    with pytest.raises(Stop):
        feint.audit(model, data.x, data.y, out=tmp_path, callback=stop_when_escalating, **kwargs)
    resumed = feint.audit(model, data.x, data.y, out=tmp_path, **kwargs)
    assert _numbers(resumed.to_dict()) == _numbers(full.to_dict())

    def untimed(report: Report) -> dict:
        escalation = report.to_dict()["escalation"]
        return {**escalation, "rungs": [{k: v for k, v in r.items() if k != "seconds"} for r in escalation["rungs"]]}

    assert untimed(resumed) == untimed(full)


def test_python_defaults_are_the_commands(lenet_digits, data) -> None:
    """Given a Dataset, ``feint.audit`` picks the dataset's eps grid and names it, as ``feint audit`` does;
    plain tensors get a grid relative to the bounds and a report that names no split."""
    from feint.measure.defaults import default_eps

    report = feint.audit(lenet_digits, data.head(16), preset="quick")
    assert report["eps"] == list(default_eps("digits", "inf"))
    assert report["data"]["name"] == "digits" and report["data"]["split"] == "test"
    assert "On 16 digits test inputs" in report.html
    plain = feint.audit(lenet_digits, data.x[:16], data.y[:16], eps=[0.1], preset="quick")
    assert "On 16 data inputs" in plain.html
    with pytest.raises(InputError, match="not a Dataset and labels"):
        feint.audit(lenet_digits, data, data.y)
    with pytest.raises(InputError, match="labels y"):
        feint.audit(lenet_digits, data.x)
