"""The command line on query-only models: feint attack / audit with .skops and pickles, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from feint.cli import main

pytestmark = pytest.mark.filterwarnings("ignore")


def test_attack_a_skops_model_with_a_query_budget(mlp_file: Path) -> None:
    args = ["attack", "--model", str(mlp_file), "--attack", "hopskipjump", "--norm", "2", "--eps", "1.0"]
    args += ["--queries-per-input", "150"]
    res = CliRunner().invoke(main, [*args, "--n-inputs", "20"])
    assert res.exit_code == 0, res.output
    assert "scores access (skops: MLPClassifier)" in res.output and "not revealed (label-only access)" in res.output
    queries = int(res.output.split("queries:")[1].split()[0])
    assert 0 < queries <= 150 * 20
    res = CliRunner().invoke(
        main, ["attack", "--model", str(mlp_file), "--attack", "square", "--eps", "0.2", "--n-inputs", "20"]
    )
    assert res.exit_code == 0 and "adversarial accuracy" in res.output


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--attack", "pgd"], "pgd needs white-box access"),
        (["--attack", "hopskipjump", "--queries-per-input", "0"], "--queries-per-input must be an integer >= 1"),
        (["--attack", "fgsm", "--queries-per-input", "10"], "needs white-box access"),
        (["--attack", "square", "--max-queries", "10"], "per input: use --queries-per-input"),
        (["--attack", "hopskipjump", "--eps", "0.3"], "L2 norm by default, where the other attacks take --eps"),
    ],
)
def test_attack_errors_are_one_line(mlp_file: Path, extra: list[str], match: str) -> None:
    res = CliRunner().invoke(main, ["attack", "--model", str(mlp_file), "--n-inputs", "5", *extra])
    assert res.exit_code == 2 and match in res.output and res.output.count("\n") == 1, res.output


def test_pickle_needs_the_trust_flag(mlp_file: Path) -> None:
    pkl = str(mlp_file.with_suffix(".pkl"))
    res = CliRunner().invoke(main, ["attack", "--model", pkl, "--attack", "square", "--n-inputs", "5"])
    assert res.exit_code == 2 and "is a pickle" in res.output and "--trust-file" in res.output
    res = CliRunner().invoke(main, ["attack", "--model", pkl, "--trust-file", "--attack", "square", "--n-inputs", "5"])
    assert res.exit_code == 0, res.output


def test_audit_of_a_query_only_model_says_white_box_could_not_run(mlp_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    args = ["audit", "--model", str(mlp_file), "--n-inputs", "30", "--eps", "0,0.1,0.2", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["access"] == {"level": "scores", "note": "skops: MLPClassifier", "white_box_attacks": False}
    assert next(iter(report["attacks"])) == "square" and report["model"]["parameters"] is None
    assert {"transfer", "square x240"} <= set(report["attacks"])  # the query-only escalation ladder ran
    assert report["queries"]["spent"] > 0 and "queries:" in res.output
    assert any(c["name"] == "white-box attacks ran" and c["status"] == "warn" for c in report["checks"])
    assert "White-box attacks could not run" in (out / "report.html").read_text()


def test_unreachable_url_is_one_line() -> None:
    res = CliRunner().invoke(main, ["attack", "--model", "http://127.0.0.1:9/v2/models/m", "--attack", "square"])
    assert res.exit_code == 2 and "cannot connect" in res.output and res.output.count("\n") == 1
