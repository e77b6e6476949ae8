"""`feint demo` end to end: trains (or reuses) the digits CNN, audits it, writes a report that parses."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from feint.capabilities.audit.schema import REPORT_SCHEMA
from feint.cli import main
from feint.report.schema import validate


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reuses_its_model(tmp_path):
    out = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "--out", str(out), "--preset", "quick", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "report:" in first.output and "training a lenet" in first.output
    report = json.loads((out / "report.json").read_text())
    assert validate(report, REPORT_SCHEMA) == []
    assert report["clean_accuracy"] >= 0.95
    assert report["worst_case"]["accuracy"][-1] < report["clean_accuracy"]
    HTMLParser().feed((out / "report.html").read_text())

    again = CliRunner().invoke(main, ["demo", "--out", str(out), "--preset", "quick", "--quiet"])
    assert again.exit_code == 0, again.output
    assert "reusing the model" in again.output
    assert json.loads((out / "report.json").read_text())["worst_case"] == report["worst_case"]
