"""Models that hide their gradient or randomize their answers, for the adaptive audit's tests."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn


class Quantize(nn.Module):
    """Input quantization: every pixel rounded to a multiple of 1/4 (its gradient is zero everywhere)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.round(x * 4) / 4


def quantized(model: nn.Module) -> nn.Module:
    """``model`` behind :class:`Quantize` (submodule ``"0"``)."""
    return nn.Sequential(Quantize(), model)


def jpeg_round_trip(x: Tensor, quality: int = 50) -> Tensor:
    """Each single-channel image of ``x`` through Pillow's JPEG encoder and decoder (outside autograd)."""
    out = []
    for img in x.detach().cpu().numpy():
        buf = io.BytesIO()
        Image.fromarray((img[0] * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buf), dtype=np.float32) / 255)
    return torch.tensor(np.stack(out))[:, None].to(x.device, x.dtype)


class JpegInForward(nn.Module):
    """A JPEG round trip done inside the model's own forward: no submodule to bypass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(jpeg_round_trip(x))


class Noisy(nn.Module):
    """Test-time Gaussian noise of standard deviation ``sigma`` on the input (from torch's RNG)."""

    def __init__(self, model: nn.Module, sigma: float = 0.15) -> None:
        super().__init__()
        self.model, self.sigma = model, sigma

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x + self.sigma * torch.randn_like(x))


class NumpyNoisy(Noisy):
    """The same noise drawn from numpy's global RNG: a torch seed cannot reproduce it."""

    def forward(self, x: Tensor) -> Tensor:
        noise = torch.from_numpy(np.random.standard_normal(tuple(x.shape)).astype(np.float32))
        return self.model(x + self.sigma * noise.to(x.device))


class InvertOutsideAutograd(nn.Module):
    """``1 - x`` computed in numpy: shape-preserving and outside autograd, so the audit bypasses it with
    the identity, which here is exactly the wrong sign."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.from_numpy(1.0 - x.detach().cpu().numpy()).to(x.device, x.dtype)


class Invert(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return 1.0 - x


def misled(model: nn.Module) -> nn.Module:
    """``model`` behind two inversions (the same function), the first outside autograd: BPDA's identity
    gradient points the wrong way, a score-based search on the true forward does not."""
    return nn.Sequential(InvertOutsideAutograd(), Invert(), model)
