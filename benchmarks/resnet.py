"""A ResNet-18 (He et al. 2016, "Deep Residual Learning for Image Recognition": BasicBlocks [2, 2, 2, 2],
64-128-256-512 channels, 7x7 stem with max pooling, global average pooling) for 3 x H x W images in
[0, 1], ImageNet normalization inside the model, as a ``module:factory`` for ``feint --model``.

Written here because torchvision does not load against the CPU torch of this machine (its wheel's
operators need its own torch build). Random weights unless ``--weights`` (safetensors) are given:
``feint audit --model resnet:resnet18 --weights resnet18.safetensors --data images/`` (with
``benchmarks/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.down(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        widths, layers, cin = (64, 128, 256, 512), [], 64
        for i, w in enumerate(widths):
            layers += [BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
            cin = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        z = self.layers(self.stem((x - self.mean) / self.std))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(z, 1), 1))


def resnet18() -> nn.Module:
    """A 10-class ResNet-18 with seeded random weights (the same on every call)."""
    gen = torch.random.fork_rng()
    with gen:
        torch.manual_seed(0)
        return ResNet18(10)
