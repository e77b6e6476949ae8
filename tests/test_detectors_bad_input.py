"""Bad input to the detectors: one clear error each, naming the problem and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from helpers import PairNet
from torch import nn

from feint.data import Dataset
from feint.detectors import DensityUncertaintyDetector, MutationDetector, load_detector
from feint.errors import FeintError, InputError, ModelError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_detector_fitted_on_one_model_refuses_another(
    mutation_detector: MutationDetector, lenet_digits: nn.Module, tmp_path: Path
) -> None:
    mutation_detector.save(tmp_path / "det")
    other = copy.deepcopy(lenet_digits)
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    with pytest.raises(ModelError, match="fitted on another model"):
        load_detector(tmp_path / "det", other)


def test_a_layer_name_the_model_lacks(lenet_digits: nn.Module, digits_train: Dataset) -> None:
    with pytest.raises(InputError, match=r"no layer named 'fc9'.*its layers are: '0'"):
        DensityUncertaintyDetector(lenet_digits, layer="fc9").fit(digits_train.x, digits_train.y)
    with pytest.raises(InputError, match="no linear or convolution layer named 'fc9'"):
        MutationDetector(lenet_digits, layers=("fc9",)).fit(digits_train.x, digits_train.y)


def test_no_dropout_and_none_insertable(lenet_digits: nn.Module, digits_train: Dataset) -> None:
    with pytest.raises(ModelError, match="no dropout layer"):
        DensityUncertaintyDetector(lenet_digits, dropout="model").fit(digits_train.x, digits_train.y)
    with pytest.raises(ModelError, match="returns tuple, not a float tensor"):
        DensityUncertaintyDetector(PairNet(), layer="flat", dropout="pair").fit(digits_train.x, digits_train.y)
    scripted = torch.jit.script(lenet_digits)
    with pytest.raises(ModelError, match="TorchScript"):
        DensityUncertaintyDetector(scripted).fit(digits_train.x, digits_train.y)


def test_too_few_clean_inputs_for_a_threshold(lenet_digits: nn.Module, digits_train: Dataset) -> None:
    with pytest.raises(InputError, match="too few clean inputs to set a threshold"):
        MutationDetector(lenet_digits).fit(digits_train.x[:12], digits_train.y[:12])


@pytest.mark.parametrize("rate", [0, -0.1, 1.5, float("nan"), True])
def test_a_mutation_rate_outside_zero_one(lenet_digits: nn.Module, digits_train: Dataset, rate: float) -> None:
    with pytest.raises(InputError, match=r"mutation rate must lie in \(0, 1\]"):
        MutationDetector(lenet_digits, rate=rate).fit(digits_train.x[:100], digits_train.y[:100])


def test_a_pool_where_no_mutant_passes_the_accuracy_filter(lenet_digits: nn.Module, digits_train: Dataset) -> None:
    detector = MutationDetector(lenet_digits, operator="nai", rate=1.0, n_mutants=5)
    with pytest.raises(ModelError, match="lower the mutation rate"):
        detector.fit(digits_train.x[:100], digits_train.y[:100])


def test_scoring_before_fitting_and_other_settings(lenet_digits: nn.Module, digits_test: Dataset) -> None:
    with pytest.raises(InputError, match="not fitted yet"):
        MutationDetector(lenet_digits).score(digits_test.x[:4])
    with pytest.raises(InputError, match="unknown mutation operator"):
        MutationDetector(lenet_digits, operator="xyz").fit(digits_test.x, digits_test.y)
    with pytest.raises(InputError, match="unknown reduction"):
        DensityUncertaintyDetector(lenet_digits, reduce="tsne").fit(digits_test.x, digits_test.y)


def test_a_corrupt_detector_folder(
    mutation_detector: MutationDetector, lenet_digits: nn.Module, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="no detector folder"):
        load_detector(tmp_path / "missing", lenet_digits)
    mutation_detector.save(tmp_path / "det")
    (tmp_path / "det" / "mutants.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="corrupt"):
        load_detector(tmp_path / "det", lenet_digits)
    (tmp_path / "det" / "detector.json").write_text("{", encoding="utf-8")
    with pytest.raises(FeintError, match="not valid JSON"):
        load_detector(tmp_path / "det", lenet_digits)
