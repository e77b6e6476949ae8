"""Built-in architectures. Each adapts to the input shape and the number of classes.

- ``softmax``: multinomial logistic regression (one linear layer).
- ``mlp``: ReLU multilayer perceptron.
- ``lenet``: a LeNet-style CNN (LeCun et al. 1998) sized to the input.
- ``convnet``: the small strided CNN of Wong & Kolter 2018 (two 4x4 stride-2 convolutions, one
  hidden dense layer), the MNIST model of Wong, Rice & Kolter 2020's fast adversarial training;
  cheap enough to train adversarially on a CPU.
- ``maxout``: the maxout network of Goodfellow et al. 2013, the model of Goodfellow et al. 2015's
  MNIST adversarial-training results.
- ``resnet``: a small pre-activation-free ResNet (He et al. 2016) with three stages.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.models.registry import register_model


def _flat_size(features: nn.Module, input_shape: tuple[int, int, int]) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *input_shape)).numel())


@register_model("softmax")
def softmax_regression(*, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    c, h, w = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, num_classes))


@register_model("mlp")
def mlp(
    *, input_shape: tuple[int, int, int], num_classes: int, hidden: tuple[int, ...] = (256, 256), dropout: float = 0.0
) -> nn.Module:
    c, h, w = input_shape
    layers: list[nn.Module] = [nn.Flatten()]
    width = c * h * w
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@register_model("lenet")
def lenet(
    *, input_shape: tuple[int, int, int], num_classes: int, channels: tuple[int, int] = (32, 64), hidden: int = 128
) -> nn.Module:
    """Two conv + max-pool blocks and two dense layers; 5x5 kernels for 28x28+, 3x3 for small inputs."""
    c, h, _ = input_shape
    k = 5 if h >= 20 else 3
    features = nn.Sequential(
        nn.Conv2d(c, channels[0], k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels[0], channels[1], k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    flat = _flat_size(features, input_shape)
    return nn.Sequential(features, nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


@register_model("convnet")
def convnet(*, input_shape: tuple[int, int, int], num_classes: int, width: int = 16, hidden: int = 100) -> nn.Module:
    """Conv(width, 4x4, stride 2) - ReLU - Conv(2 width, 4x4, stride 2) - ReLU - Dense(hidden) - ReLU - Dense."""
    c = input_shape[0]
    features = nn.Sequential(
        nn.Conv2d(c, width, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
    )
    flat = _flat_size(features, input_shape)
    return nn.Sequential(features, nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


class Maxout(nn.Module):
    """A dense maxout layer: ``pieces`` linear maps, element-wise max (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).amax(2)


@register_model("maxout")
def maxout(
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    hidden: tuple[int, ...] = (240, 240),
    pieces: int = 5,
    dropout: float = 0.2,
) -> nn.Module:
    c, h, w = input_shape
    layers: list[nn.Module] = [nn.Flatten()]
    width = c * h * w
    for size in hidden:
        layers += [Maxout(width, size, pieces), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.skip(x))


@register_model("resnet")
def resnet(
    *, input_shape: tuple[int, int, int], num_classes: int, width: int = 16, blocks_per_stage: int = 1
) -> nn.Module:
    """A three-stage ResNet (widths w, 2w, 4w); stages downsample only while the map is at least 8x8."""
    c, h, _ = input_shape
    layers: list[nn.Module] = [nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    cin, size = width, h
    for stage in range(3):
        cout = width * 2**stage
        for b in range(blocks_per_stage):
            stride = 2 if (stage > 0 and b == 0 and size >= 8) else 1
            layers.append(BasicBlock(cin, cout, stride))
            size = (size + stride - 1) // stride
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)
