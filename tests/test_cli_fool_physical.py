"""``feint fool``, ``feint physical``, ``feint natural`` and ``feint audit --natural`` end to end on the digits LeNet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from feint.cli import main
from feint.models import load_model, save_model
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, lenet_digits, digits_test):
    folder = tmp_path_factory.mktemp("fool") / "lenet"
    save_model(lenet_digits, folder, arch="lenet", data=digits_test.info.to_dict())
    return folder


def invoke(*args: str):
    return CliRunner().invoke(main, [*args, "--quiet"])


def _report(folder, schema):
    report = json.loads((folder / "report.json").read_text())
    assert validate(report, schema) == []
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    return report


@pytest.mark.parametrize(("method", "generations"), [("direct", 40), ("cppn", 20), ("gradient", 40)])
def test_fool_writes_a_report_and_images_anyone_can_check(model_dir, tmp_path, method, generations):
    from feint.capabilities.fooling.report import REPORT_SCHEMA

    out = tmp_path / method
    result = invoke(
        "fool",
        "--model",
        str(model_dir),
        "--method",
        method,
        "--generations",
        str(generations),
        "--population",
        "40",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    report = _report(out, REPORT_SCHEMA)
    assert report["method"] == method and len(report["history"]["median"]) == generations + 1
    saved = np.load(out / "fooling.npz")
    assert set(saved.files) >= {"x", "target", "confidence"} and saved["x"].shape == (10, 1, 8, 8)
    model = load_model(model_dir)
    with torch.no_grad():
        probs = model(torch.from_numpy(saved["x"])).softmax(1).numpy()
    assert np.allclose(probs[np.arange(10), saved["target"]], saved["confidence"], atol=1e-5)
    assert [c["confidence"] for c in report["classes"]] == pytest.approx(saved["confidence"].tolist(), abs=1e-6)
    assert report["queries"] > 0 and "classes fooled at >= 99%" in result.output
    if method == "cppn":
        from feint.attacks.fooling import load_cppns

        genomes = load_cppns(out / "cppn_genomes.json")
        redrawn = np.stack([g.render(8, 8) for g in genomes])
        assert np.allclose(redrawn, saved["x"], atol=1e-6), "the saved genomes draw the saved images"
    if method == "direct":
        assert report["summary"]["fooled"] == 10, report["summary"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generations", "0"], "--generations must be an integer >= 1, got 0"),
        (["--population", "0"], "population must be an integer >= 1, got 0"),
        (["--input-shape", "1,8"], "--input-shape '1,8' must be three positive sizes"),
        (["--max-queries", "5"], "would exceed the budget of 5"),
        (["--method", "gradient", "--blur-sigma", "5"], "too small for a blur"),
    ],
)
def test_fool_bad_input_is_one_line_and_exit_2(model_dir, tmp_path, args, message):
    result = invoke("fool", "--model", str(model_dir), "--out", str(tmp_path / "x"), *args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and message in result.output
    assert not (tmp_path / "x" / "fooling.npz").exists()


def test_physical_writes_rates_sheet_and_arrays(model_dir, tmp_path):
    from feint.capabilities.physical.report import REPORT_SCHEMA

    out = tmp_path / "physical"
    result = invoke(
        "physical", "--model", str(model_dir), "--n", "40", "--attacks", "fgsm,bim", "--eps", "0.1,0.2", "--draws", "1",
        "--eot", "--eot-steps", "3", "--eot-samples", "2", "--sheet", "5", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = _report(out, REPORT_SCHEMA)
    assert report["settings"]["attacks"] == ["fgsm", "bim", "pgd", "eot_pgd"]
    assert {r["k"] for r in report["destruction"]} == {1, 5}
    assert (out / "sheet.pdf").read_bytes()[:5] == b"%PDF-"
    arrays = np.load(out / "adversarial.npz")
    assert arrays["x_adv"].shape == (8, 40, 1, 8, 8) and list(arrays["ids"]) == list(range(40))
    assert "eot_pgd" in result.output and report["sheet"]["ids"] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attacks", "fgsm,nope"], "unknown attack 'nope'"),
        (["--eps", "0"], "every eps must be above 0"),
        (["--draws", "0"], "draws must be an integer >= 1"),
        (["--attacks", "fgsm,cw"], "attack 'cw' does not take an Linf eps budget"),
        (
            ["--attacks", "fgsm,bim,ll_class,pgd,fgsm_rs,mifgsm,ifgsm,apgd,apgd-t,rand_fgsm,square"],
            "a sheet row holds at most 11 images, got 12",
        ),
    ],
)
def test_physical_bad_input_is_one_line_and_exit_2(model_dir, tmp_path, args, message):
    result = invoke("physical", "--model", str(model_dir), "--n", "10", "--out", str(tmp_path / "p"), *args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and message in result.output


def test_audit_natural_adds_its_section(model_dir, tmp_path):
    from feint.capabilities.audit.schema import REPORT_SCHEMA

    out = tmp_path / "audit"
    result = invoke(
        "audit",
        "--model",
        str(model_dir),
        "--preset",
        "quick",
        "--n",
        "40",
        "--eps",
        "0,0.1",
        "--natural",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    report = _report(out, REPORT_SCHEMA)
    natural = report["natural"]
    rotation = natural["families"][0]
    assert rotation["accuracy"][rotation["values"].index(0.0)] == pytest.approx(report["clean_accuracy"])
    assert 'id="natural"' in (out / "report.html").read_text()
    assert "natural variation: worst case" in result.output


@pytest.mark.filterwarnings("ignore")
def test_fool_a_query_only_model_from_its_scores(mlp_file, tmp_path):
    """A scikit-learn model in a .skops file: no torch module, no gradients, only predict_proba."""
    import skops.io as sio

    out = tmp_path / "sk"
    args = ["--method", "direct", "--generations", "60", "--population", "30", "--max-queries", "3000"]
    result = invoke("fool", "--model", str(mlp_file), "--input-shape", "1,8,8", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "scores access (skops: MLPClassifier)" in result.output
    saved = np.load(out / "fooling.npz")
    est = sio.load(mlp_file, trusted=sio.get_untrusted_types(file=mlp_file))
    probs = est.predict_proba(saved["x"].reshape(10, -1))
    assert np.allclose(probs[np.arange(10), saved["target"]], saved["confidence"], atol=1e-5)
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["access"] == "scores" and 0 < report["queries"] <= 3000
    assert (saved["confidence"] >= 0.99).sum() >= 8, saved["confidence"]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fool", "--method", "gradient", "--input-shape", "1,8,8"], "--method gradient needs a white-box torch model"),
        (["fool", "--method", "direct"], "does not record its input shape; pass --input-shape"),
        (["physical", "--n", "5"], "feint physical runs gradient attacks"),
    ],
)
def test_query_only_model_errors_are_one_line(mlp_file, tmp_path, args, message):
    result = invoke(args[0], "--model", str(mlp_file), *args[1:], "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output, result.output


@pytest.mark.filterwarnings("ignore")
def test_audit_natural_on_a_query_only_model(mlp_file, tmp_path):
    out = tmp_path / "audit"
    args = ["--preset", "quick", "--n", "30", "--eps", "0,0.1", "--natural", "--out", str(out)]
    result = invoke("audit", "--model", str(mlp_file), *args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rotation = report["natural"]["families"][0]
    assert rotation["accuracy"][rotation["values"].index(0.0)] == pytest.approx(report["clean_accuracy"])


def test_natural_writes_its_own_report_with_the_audits_figures(model_dir, tmp_path):
    from feint.capabilities.physical.natural_report import REPORT_SCHEMA

    out = tmp_path / "natural"
    result = invoke("natural", "--model", str(model_dir), "--n", "40", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = _report(out, REPORT_SCHEMA)
    natural = report["natural"]
    rotation = natural["families"][0]
    assert rotation["accuracy"][rotation["values"].index(0.0)] == pytest.approx(natural["clean_accuracy"])
    assert natural["grid"]["worst_case_accuracy"] <= natural["grid"]["mean_accuracy"] <= 1.0
    assert report["data"]["n"] == 40 and report["model"]["access"] == "white-box"
    assert 'id="natural"' in (out / "report.html").read_text()
    assert "rotation x translation grid" in result.output and "report.html" in result.output


@pytest.mark.filterwarnings("ignore")
def test_natural_on_a_query_only_model_needs_only_labels(mlp_file, tmp_path):
    out = tmp_path / "natural"
    result = invoke("natural", "--model", str(mlp_file), "--n", "30", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["access"] == "scores" and "skops" in report["model"]["loaded_as"]
    assert 0.0 <= report["natural"]["grid"]["worst_case_accuracy"] <= report["natural"]["clean_accuracy"]
