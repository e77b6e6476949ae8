"""FGSM: inside the threat model, lowers accuracy, and equals the analytic optimum on linear models."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from feint.attacks import fgsm, fgsm_rs
from feint.errors import InputError


@settings(max_examples=15, deadline=None)
@given(eps=st.floats(0.0, 0.5), norm=st.sampled_from(["inf", "2"]), start=st.integers(0, 300))
def test_fgsm_stays_inside_the_ball_and_the_bounds(lenet_digits, digits_test, eps, norm, start):
    x, y = digits_test.x[start : start + 16], digits_test.y[start : start + 16]
    result = fgsm(lenet_digits, x, y, eps=eps, norm=norm)
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    size = (result.x_adv - x).flatten(1)
    size = size.abs().amax(1) if norm == "inf" else size.norm(dim=1)
    assert bool((size <= eps + 1e-5).all())
    assert torch.allclose(size, result.distance, atol=1e-6)


def test_fgsm_lowers_accuracy(lenet_digits, digits_test):
    x, y = digits_test.x, digits_test.y
    clean = (lenet_digits(x).argmax(1) == y).float().mean().item()
    result = fgsm(lenet_digits, x, y, eps=0.2)
    assert result.accuracy < clean - 0.3
    assert result.queries == len(y)


def test_targeted_fgsm_moves_towards_the_target(lenet_digits, digits_test):
    x, y = digits_test.x[:100], digits_test.y[:100]
    target = (y + 1) % 10
    result = fgsm(lenet_digits, x, y, eps=0.15, targeted=True, target=target)
    before = lenet_digits(x).log_softmax(1).gather(1, target[:, None])
    after = lenet_digits(result.x_adv).log_softmax(1).gather(1, target[:, None])
    assert (after > before).float().mean() > 0.9
    assert torch.equal(result.success, result.adv_pred == target)
    assert result.success.any()


def _linear(num_classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, num_classes))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_linear_model_fgsm_is_the_exact_worst_case(seed):
    """With two classes the loss is monotone in w.x, so eps*sign(w_other - w_true) is optimal."""
    model = _linear(2, seed)
    x = torch.full((8, 1, 4, 4), 0.5) + 0.1 * torch.rand(8, 1, 4, 4)
    y = torch.randint(0, 2, (8,))
    eps = 0.05
    weight = model[1].weight.detach()
    direction = (weight[1 - y] - weight[y]).sign().view_as(x)
    result = fgsm(model, x, y, eps=eps)
    assert torch.allclose(result.x_adv, x + eps * direction, atol=1e-6)
    loss = nn.functional.cross_entropy
    worst = loss(model(result.x_adv), y, reduction="none")
    for _ in range(20):
        vertex = x + eps * torch.randint(0, 2, x.shape).float().mul(2).sub(1)
        assert bool((loss(model(vertex), y, reduction="none") <= worst + 1e-6).all())


def test_softmax_regression_fgsm_matches_the_analytic_gradient_sign(softmax_digits, digits_test):
    """For z = Wx + b the input gradient of cross-entropy is W^T (softmax(z) - onehot(y))."""
    x, y = digits_test.x[:64], digits_test.y[:64]
    linear = softmax_digits[1]
    z = linear(x.flatten(1))
    grad = (z.softmax(1) - nn.functional.one_hot(y, 10).float()) @ linear.weight
    expected = (x + 0.1 * grad.sign().view_as(x)).clamp(0, 1)
    result = fgsm(softmax_digits, x, y, eps=0.1)
    assert torch.allclose(result.x_adv, expected, atol=1e-6)


def test_fgsm_accepts_a_user_module(digits_test):
    class UserNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.reshape(len(x), -1))

    torch.manual_seed(0)
    result = fgsm(UserNet(), digits_test.x[:8], digits_test.y[:8], eps=0.1)
    assert result.x_adv.shape == (8, 1, 8, 8)


def test_fgsm_refuses_negative_eps(lenet_digits, digits_test):
    with pytest.raises(InputError, match="eps"):
        fgsm(lenet_digits, digits_test.x[:4], digits_test.y[:4], eps=-0.1)


def test_targeted_without_targets_is_refused(lenet_digits, digits_test):
    with pytest.raises(InputError, match="target"):
        fgsm(lenet_digits, digits_test.x[:4], digits_test.y[:4], eps=0.1, targeted=True)


@settings(max_examples=10, deadline=None)
@given(eps=st.floats(0.01, 0.4), seed=st.integers(0, 2**16))
def test_fgsm_rs_stays_inside_the_ball_and_is_seeded(lenet_digits, digits_test, eps, seed):
    x, y = digits_test.x[:16], digits_test.y[:16]
    first = fgsm_rs(lenet_digits, x, y, eps=eps, seed=seed)
    again = fgsm_rs(lenet_digits, x, y, eps=eps, seed=seed)
    assert torch.equal(first.x_adv, again.x_adv)
    assert float((first.x_adv - x).abs().max()) <= eps + 1e-6
    assert first.x_adv.min() >= 0 and first.x_adv.max() <= 1
