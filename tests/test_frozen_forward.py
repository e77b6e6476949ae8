"""The frozen tier of a module's forward pass (feint/oracles/frozen.py): used only where it is checked,
equal to the module's logits, rebuilt when the weights change; refused for models a trace cannot hold."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from feint.defenses import smoothing
from feint.defenses.smoothing import smooth
from feint.oracles import frozen as frozen_tier
from feint.oracles.forward import ModuleForward
from feint.oracles.frozen import FREEZE_ROWS, frozen_copy


def conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10),
    ).eval()  # fmt: skip


class Branchy(nn.Module):
    """Python control flow on a tensor's value: a trace would keep one branch for every input."""

    def __init__(self) -> None:
        super().__init__()
        self.net = conv_net()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x) if float(x.mean()) > 0.5 else -self.net(x)


class Noisy(nn.Module):
    """A randomized model: two passes differ, so no frozen copy can be checked against it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = conv_net()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x + 0.1 * torch.randn_like(x))


def test_frozen_copy_gives_the_modules_logits_and_forward_uses_it() -> None:
    model = conv_net()
    x = torch.rand(300, 1, 16, 16)
    copy = frozen_copy(model, x[:128])
    assert copy is not None
    with torch.no_grad():
        plain = model(x)
    assert torch.allclose(copy(x), plain, atol=1e-5)
    fast = ModuleForward(model, freeze=True)(x)
    assert torch.allclose(fast, plain, atol=1e-5)
    assert frozen_copy(model, x[:128]) is copy  # cached per model and input shape
    assert all(p.is_contiguous() for p in model.parameters()) and not model.training


def test_rebuilt_when_the_weights_change() -> None:
    model = conv_net()
    x = torch.rand(64, 1, 16, 16)
    before = frozen_copy(model, x)
    with torch.no_grad():
        model[0].weight.mul_(-2.0)
        want = model(x)
    after = frozen_copy(model, x)
    assert after is not None and after is not before
    assert torch.allclose(after(x), want, atol=1e-5)


def test_refused_where_a_trace_cannot_hold() -> None:
    x = torch.rand(64, 1, 16, 16)
    assert frozen_copy(Branchy().eval(), x) is None  # the tracer warns: the branch is baked in
    assert frozen_copy(Noisy().eval(), x) is None  # the copy cannot match a random model
    assert frozen_copy(conv_net(), x[:1]) is None  # one row: nothing to check a second batch size on
    out = ModuleForward(Branchy().eval(), freeze=True)(x)  # still answered, by the module itself
    assert out.shape == (64, 10)


def test_smoothing_counts_are_the_same_through_the_frozen_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    smoothed = smooth(conv_net(), 0.25, n=1000, batch_size=1000)
    x = torch.rand(2, 1, 16, 16)
    num = FREEZE_ROWS // 2 + 1  # two inputs: enough rows to freeze

    def counts() -> Tensor:
        return smoothed.counts(x, num, generator=torch.Generator().manual_seed(0))

    frozen = counts()
    assert [copy is not None for _, copy in frozen_tier._copies[smoothed.base].values()] == [True]  # it was used
    monkeypatch.setattr(smoothing, "FREEZE_ROWS", 10**12)
    plain = counts()  # the same noise through the module itself
    assert int(frozen.sum()) == int(plain.sum()) == 2 * num
    # the logits agree to float rounding: a draw's class can differ only at a tie that close
    assert int((frozen - plain).abs().sum()) <= num // 1000


def test_the_certify_report_says_how_the_draws_went_through_the_model() -> None:
    import feint
    from feint.capabilities.certify.measure import FROZEN, PLAIN

    x, y = torch.rand(3, 1, 16, 16), torch.tensor([0, 1, 2])
    many = feint.certify(conv_net(), x, y, sigma=0.25, n0=10, n=FREEZE_ROWS // 3 + 1, progress=False)
    few = feint.certify(conv_net(), x, y, sigma=0.25, n0=10, n=100, progress=False)
    assert many.data["timings"]["forward"] == FROZEN
    assert few.data["timings"]["forward"] == PLAIN
