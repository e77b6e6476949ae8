"""``feint.transfer`` / ``feint transfer --source A --target B``: transfer between architectures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from feint.capabilities.transfer.pair import transfer
from feint.capabilities.transfer.pair_report import REPORT_SCHEMA
from feint.cli import main
from feint.errors import InputError
from feint.models import save_model
from feint.oracles import as_oracle
from feint.report.schema import validate
from feint.training import train

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.fixture(scope="module")
def mlp_digits(digits_train):
    return train("mlp", digits_train, epochs=20, seed=1, progress=False).model


@pytest.fixture(scope="module")
def tutorial(lenet_digits, mlp_digits, digits_test, tmp_path_factory):
    """The tutorial setting: targeted iterative FGSM with eta = eps / T, crafted on a CNN, sent to an MLP."""
    out = tmp_path_factory.mktemp("transfer")
    oracle = as_oracle(mlp_digits, access="labels")
    x, y = digits_test.x, digits_test.y
    report = transfer(
        lenet_digits, oracle, x, y, steps=(1, 10), eps=(0.1, 0.2, 0.3), targeted=True, data_info=digits_test.info,
        out=out, progress=False, source_name="lenet", target_name="mlp",
    )  # fmt: skip
    return out, report.data, oracle


def test_one_step_transfers_at_least_as_well_as_ten(tutorial):
    r = tutorial[1]
    one, ten = r["curves"]
    assert (one["steps"], ten["steps"]) == (1, 10)
    for i in (1, 2):  # eps 0.2 and 0.3
        assert one["target_accuracy"][i] <= ten["target_accuracy"][i], (one, ten)
        assert ten["source_target_success"][i] >= one["source_target_success"][i]  # white-box, more steps win


def test_transferred_fgsm_beats_noise_of_the_same_size_on_another_architecture(tutorial):
    r = tutorial[1]
    one, noise = r["curves"][0], r["noise"]["target_accuracy"]
    for i in range(3):
        assert one["target_accuracy"][i] < noise[i] - 0.05, (one, noise)
    assert one["target_accuracy"][2] < noise[2] - 0.5
    assert one["target_target_success"][2] > 0.3  # targeted: the target model often predicts the aimed class


def test_report_and_queries(tutorial, digits_test):
    out, r, oracle = tutorial
    assert validate(r, REPORT_SCHEMA) == [] and r["schema"] == "feint.transfer/1"
    assert json.loads((out / "report.json").read_text())["curves"] == r["curves"]
    html = (out / "report.html").read_text()
    assert "White-box and black-box accuracy" in html and "Targeted success" in html
    n = len(digits_test)
    assert oracle.queries == r["queries"]["target"] == n * (1 + 2 * 3 + 3)


def test_bad_input_is_one_clear_error(lenet_digits, mlp_digits, digits_test):
    x, y = digits_test.x[:20], digits_test.y[:20]
    oracle = as_oracle(mlp_digits, access="labels")
    with pytest.raises(InputError, match="as_oracle"):
        transfer(lenet_digits, mlp_digits, x, y, progress=False)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="takes no step count"):
        transfer(lenet_digits, oracle, x, y, attack="fgsm", steps=(1, 2), progress=False)
    with pytest.raises(InputError, match="step count"):
        transfer(lenet_digits, oracle, x, y, steps=(0,), progress=False)
    five = as_oracle(mlp_digits, access="labels", num_classes=5)
    with pytest.raises(InputError, match="same task"):
        transfer(lenet_digits, five, x, y, progress=False)
    assert oracle.queries == 0


def test_cli_pairwise(lenet_digits, mlp_digits, digits_train, tmp_path):
    info = digits_train.info.to_dict()
    source = save_model(lenet_digits, tmp_path / "lenet", arch="lenet", data=info)
    target = save_model(mlp_digits, tmp_path / "mlp", arch="mlp", data=info)
    out = tmp_path / "tr"
    args = ["transfer", "--source", str(source), "--target", str(target), "--data", "digits", "--attack", "ifgsm"]
    result = CliRunner().invoke(
        main, [*args, "--steps", "1,5", "--eps", "0.2", "--n", "80", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert [c["steps"] for c in report["curves"]] == [1, 5] and report["data"]["n"] == 80
    assert report["source"]["name"] == "lenet" and report["target"]["name"] == "mlp"
    bad = CliRunner().invoke(main, [*args, "--steps", "1,x", "--out", str(out)])
    assert bad.exit_code == 2 and bad.output.startswith("error: ") and "--steps" in bad.output
    lonely = CliRunner().invoke(main, ["transfer", "--source", str(source), "--out", str(out)])
    assert lonely.exit_code == 2 and "--matrix" in lonely.output


def test_python_default_eps_is_the_commands(lenet_digits, mlp_digits, digits_test):
    """Given a Dataset, ``transfer`` picks the dataset's grid without 0, as ``feint transfer`` does."""
    from feint.measure.defaults import default_eps

    oracle = as_oracle(mlp_digits, access="labels")
    r = transfer(lenet_digits, oracle, digits_test.head(10), steps=(1,))
    assert r["eps"] == [e for e in default_eps("digits", "inf") if e > 0]
    assert r["data"]["name"] == "digits" and r["data"]["split"] == "test"
