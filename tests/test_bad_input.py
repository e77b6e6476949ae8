"""Each bad input gets one clear error that names the problem and the fix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import feint
from feint.attacks import fgsm
from feint.errors import FeintError, InputError, ModelError
from feint.threat import ThreatModel


@pytest.fixture
def batch(digits_test):
    return digits_test.x[:8].clone(), digits_test.y[:8].clone()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda x, y: (
                x.masked_fill(
                    torch.zeros_like(x, dtype=torch.bool).index_fill(0, torch.tensor([0]), True), float("nan")
                ),
                y,
            ),
            "NaN",
        ),
        (lambda x, y: (x.clone().index_fill(0, torch.tensor([1]), float("inf")), y), "NaN or infinite"),
        (lambda x, y: (x[:, 0], y), "NCHW"),
        (lambda x, y: (x * 255, y), "outside the bounds"),
        (lambda x, y: (x - 0.5, y), "outside the bounds"),
        (lambda x, y: (x, y + 10), "labels must lie in"),
        (lambda x, y: (x, y - 20), "labels must lie in"),
        (lambda x, y: (x, y.float()), "integer class indices"),
        (lambda x, y: (x, y[:3]), "one class index per input"),
        (lambda x, y: ((x * 255).to(torch.uint8), y), "float pixels"),
    ],
)
def test_bad_tensors(lenet_digits, batch, mutate, message):
    x, y = mutate(*batch)
    with pytest.raises(InputError, match=message):
        fgsm(lenet_digits, x, y, eps=0.1)


def test_wrong_channel_count_names_the_model_error(lenet_digits, batch):
    x, y = batch
    with pytest.raises(ModelError, match=r"shape \(8, 3, 8, 8\)"):
        fgsm(lenet_digits, x.repeat(1, 3, 1, 1), y, eps=0.1)


def test_an_audit_on_inputs_of_the_wrong_size_names_the_model_error(lenet_digits, batch):
    x, y = batch
    bigger = torch.nn.functional.interpolate(x, size=(28, 28))
    with pytest.raises(ModelError, match=r"shape \(8, 1, 28, 28\).*image size"):
        feint.audit(lenet_digits, bigger, y, eps=[0.0, 0.1], preset="quick", progress=False)


def test_a_model_returning_probabilities_is_detected(lenet_digits, batch):
    model = nn.Sequential(lenet_digits, nn.Softmax(dim=1))
    with pytest.raises(ModelError, match=r"probabilities.*remove the final softmax"):
        fgsm(model, *batch, eps=0.1)


def test_a_model_returning_the_wrong_shape_is_refused(batch):
    class Scalar(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum((1, 2, 3))

    with pytest.raises(ModelError, match="logits of shape"):
        fgsm(Scalar(), *batch, eps=0.1)


@pytest.mark.parametrize("eps", [-0.1, float("nan")])
def test_bad_eps(eps):
    with pytest.raises(InputError, match="eps must be a number >= 0"):
        ThreatModel("inf", eps)


def test_unknown_norm():
    with pytest.raises(InputError, match="unknown norm"):
        ThreatModel("l7", 0.1)


def test_every_feint_error_is_one_hierarchy():
    assert issubclass(InputError, FeintError) and issubclass(ModelError, FeintError)


def test_non_finite_logits_on_a_subset_name_the_attacks_rows():
    """An attack that evaluates some of its rows says which; the error names those rows of its inputs."""
    from feint.attacks.core import QueryCounter
    from feint.errors import NonFiniteLogits

    class NaNOnSecond(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(x.shape[0], 3)
            out[1] = float("nan")
            return out

    counter = QueryCounter(NaNOnSecond(), n=5)
    with (
        pytest.raises(NonFiniteLogits, match=r"for 1 of 5 inputs \(rows 3\)"),
        counter.on_rows(torch.tensor([0, 3, 4])),
    ):
        counter(torch.zeros(3, 1, 2, 2))
    with pytest.raises(NonFiniteLogits, match=r"for 1 of 5 inputs \(rows 1\)"):
        counter(torch.zeros(5, 1, 2, 2))
    with pytest.raises(NonFiniteLogits, match="on some inputs"):
        counter(torch.zeros(2, 1, 2, 2))  # a subset nobody named
    assert counter.queries == 10
