"""How a module oracle runs its model: same scores as the plain forward pass, the model untouched,
weights followed after they change, and models that cannot take channels_last still answered."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.oracles import ModuleScoreOracle
from feint.oracles.forward import ModuleForward, nhwc


def conv_net(channels: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


class ViewNet(nn.Module):
    """A user's model that flattens a convolution's output with ``.view`` (needs NCHW strides)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv(x)
        return self.fc(h.view(h.shape[0], -1))


def test_same_scores_as_plain_forward_and_model_untouched() -> None:
    model = conv_net().eval()
    x = torch.rand(300, 1, 16, 16)
    forward = ModuleForward(model, batch_size=128)
    with torch.no_grad():
        plain = model(x)
    fast = forward(x)
    assert torch.allclose(fast, plain, atol=1e-5)
    assert forward.channels_last and forward._weights  # the channels_last path ran
    assert all(p.is_contiguous() for p in model.parameters())  # the user's weights keep their layout


def test_follows_weights_that_change() -> None:
    model = conv_net()
    oracle = ModuleScoreOracle(model)
    x = torch.rand(8, 1, 16, 16)
    before = oracle.scores(x)
    with torch.no_grad():
        model[0].weight.mul_(-1.0)
        after_plain = model.eval()(x)
    after = oracle.scores(x)
    assert not torch.allclose(before, after, atol=1e-3)
    assert torch.allclose(after, after_plain, atol=1e-5)


def test_model_that_needs_nchw_is_still_answered() -> None:
    model = ViewNet().eval()
    x = torch.rand(5, 3, 8, 8)
    forward = ModuleForward(model)
    with torch.no_grad():
        plain = model(x)
    assert torch.allclose(forward(x), plain, atol=1e-5)
    assert not forward.channels_last  # fell back once, stays plain


def test_nhwc_one_channel_is_a_view_with_channels_last_strides() -> None:
    x = torch.rand(4, 1, 5, 7)
    y = nhwc(x[1:])
    assert torch.equal(y, x[1:]) and y.is_contiguous(memory_format=torch.channels_last)
    assert y.data_ptr() == x[1:].data_ptr()
