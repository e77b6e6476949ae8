"""The cross-technique matrix (Papernot, McDaniel & Goodfellow 2016): every cell, white-box diagonal,
disjoint halves, sizes, the ensemble, the report and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from feint.capabilities.transfer.matrix import split_halves, transfer_matrix
from feint.capabilities.transfer.matrix_report import REPORT_SCHEMA
from feint.capabilities.transfer.techniques import TECHNIQUES, TechniqueSettings, parse_techniques
from feint.cli import main
from feint.errors import InputError
from feint.report.schema import validate

SETTINGS = TechniqueSettings(dnn_arch="mlp", dnn_epochs=20, dnn_lr=1e-3, substitute_epochs=20)

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.fixture(scope="module")
def matrix(digits_train, digits_test, tmp_path_factory):
    out = tmp_path_factory.mktemp("matrix")
    report = transfer_matrix(digits_train, digits_test, eps=0.3, settings=SETTINGS, out=out, progress=False)
    return out, report.data


def test_every_cell_is_measured(matrix):
    r = matrix[1]
    assert validate(r, REPORT_SCHEMA) == [] and r["schema"] == "feint.transfer-matrix/1"
    for key in ("same_data", "disjoint_halves"):
        m = r[key]
        assert m["sources"] == m["targets"] == list(TECHNIQUES)
        assert len(m["rates"]) == 6 and all(len(row) == 6 for row in m["rates"])
        assert all(0.0 <= v <= 1.0 for row in m["rates"] for v in row)
    assert set(r["models"]) == set(r["crafting"]) == set(TECHNIQUES)


def test_white_box_diagonal_is_highest_in_its_row_for_the_gradient_techniques(matrix):
    m = matrix[1]["same_data"]
    for technique in ("dnn", "lr"):
        i = m["sources"].index(technique)
        row = m["rates"][i]
        assert row[i] == max(row), (technique, row)
        assert row[i] > 0.9


def test_methods_fit_their_sources_and_report_sizes(matrix):
    r = matrix[1]
    c, same = r["crafting"], r["same_data"]["rates"]
    white = {t: same[i][i] for i, t in enumerate(TECHNIQUES)}
    assert white["dt"] > 0.8 and white["svm"] > 0.3 and white["knn"] > 0.3 and white["ens"] > 0.5
    assert c["dt"]["l0"]["median"] <= 4 < c["dnn"]["l0"]["median"]  # the path attack changes a few features
    assert c["svm"]["l2"]["median"] < c["dnn"]["l2"]["median"]  # the orthogonal step is Linf-sized, not sign
    for t in TECHNIQUES:
        assert c[t]["linf"]["median"] <= 0.3 + 1e-6
    assert c["dt"]["over_budget"] is not None and c["dnn"]["over_budget"] is None
    half = r["data"]["halves"][0]  # kNN and the ensemble were asked one label per training input of their half
    assert c["knn"]["label_queries"] == c["ens"]["label_queries"] == half and c["dnn"]["label_queries"] is None
    clean = [m["clean_error"] for m in r["models"].values()]
    assert all(0 <= e < 0.3 for pair in clean for e in pair)


def test_report_files(matrix):
    out, r = matrix
    assert json.loads((out / "report.json").read_text())["same_data"] == r["same_data"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 2 and "Papernot" in html and "disjoint halves" in html


def test_halves_are_disjoint_and_stratified(digits_train):
    a, b = split_halves(digits_train, 0)
    assert abs(len(a) - len(b)) <= 1

    def rows(d):
        return sorted(r.numpy().tobytes() + bytes([int(label)]) for r, label in zip(d.x.flatten(1), d.y, strict=True))

    assert sorted(rows(a) + rows(b)) == rows(digits_train)  # a partition: every input in exactly one half
    assert bool(((a.y.bincount() - b.y.bincount()).abs() <= 1).all())


def test_decision_tree_says_when_the_budget_is_too_small(digits_train, digits_test):
    r = transfer_matrix(
        digits_train, digits_test.head(120), techniques="dt,lr", eps=0.05, settings=SETTINGS, progress=False
    )
    note = " ".join(r["notes"])
    assert "cannot meet the Linf budget eps = 0.05" in note and "left them unchanged" in note
    assert r["crafting"]["dt"]["over_budget"] > 0


def test_unknown_technique_is_one_clear_error():
    with pytest.raises(InputError, match="unknown technique 'rf'"):
        parse_techniques("dnn,rf")
    with pytest.raises(InputError, match="each technique once"):
        parse_techniques("lr,lr")


def test_cli_matrix(tmp_path):
    out = tmp_path / "mx"
    args = ["transfer", "--matrix", "--data", "digits", "--techniques", "lr,svm,dt", "--eps", "0.2", "--n", "60"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["same_data"]["sources"] == ["lr", "svm", "dt"] and report["data"]["n"] == 60
    assert "disjoint halves" in result.output
    bad = CliRunner().invoke(main, ["transfer", "--matrix", "--techniques", "dnn,rf", "--out", str(out)])
    assert (
        bad.exit_code == 2 and bad.output == "error: unknown technique 'rf'; choose from dnn, lr, svm, dt, knn, ens\n"
    )
    both = CliRunner().invoke(main, ["transfer", "--matrix", "--source", "x", "--out", str(out)])
    assert both.exit_code == 2 and "drop --source" in both.output
