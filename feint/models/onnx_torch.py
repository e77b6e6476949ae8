"""White-box access to an ONNX classifier: its graph converted to a torch module by onnx2torch.

The conversion is used only when it is checked: the module must give the same scores as
onnxruntime on random inputs (within ``1e-4``), take a free batch size and output logits.
Otherwise the file stays an oracle and the note says why.

onnx2torch imports torchvision at import time for two detection operators (NMS, RoIAlign) that
classifiers do not use, and PyPI's torchvision does not load beside every torch build. When
torchvision cannot be imported, a stand-in whose two operators raise a clear error is put in
place for the import only (and removed after it).
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from feint.errors import ModelError
from feint.oracles.layout import InputLayout

TOLERANCE = 1e-4


def _unavailable(*_args: Any, **_kwargs: Any) -> Any:
    raise ModelError("this ONNX graph uses a detection operator (NMS/RoIAlign) that needs torchvision")


def _import_convert() -> Callable[[Any], nn.Module] | None:
    try:
        import onnx2torch

        return onnx2torch.convert  # type: ignore[no-any-return]
    except ImportError as exc:
        if "torchvision" not in str(exc) and getattr(exc, "name", "") != "torchvision":
            return None
    except Exception:  # torchvision is installed but does not load beside this torch
        pass
    stand_in = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = _unavailable  # type: ignore[attr-defined]
    stand_in.ops = ops  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("torchvision", "torchvision.ops")}
    sys.modules.update({"torchvision": stand_in, "torchvision.ops": ops})
    try:
        for name in [m for m in sys.modules if m.startswith("onnx2torch")]:
            del sys.modules[name]
        return importlib.import_module("onnx2torch").convert  # type: ignore[no-any-return]
    except ImportError:
        return None
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


class FromNCHW(nn.Module):
    """Feeds NCHW images to a converted graph that takes another layout (flat, NHWC or NHW)."""

    def __init__(self, graph: nn.Module, layout: InputLayout) -> None:
        super().__init__()
        self.graph, self.layout = graph, layout

    def forward(self, x: Tensor) -> Tensor:
        return self.graph(self.layout.rearrange(x).to(getattr(torch, self.layout.dtype)))  # type: ignore[no-any-return]


def onnx_to_module(path: str | os.PathLike[str]) -> tuple[nn.Module | None, str]:
    """``(module in eval mode, note)`` when the graph converts and checks out, else ``(None, why not)``."""
    from feint.oracles.onnx import _OnnxRunner, run_session

    runner = _OnnxRunner(path)
    if runner.kind != "scores" or "prob" in runner.output_name.lower():
        return None, "its output is not logits, so gradient attacks cannot use a converted graph"
    if runner.layout.batch is not None:
        return (
            None,
            f"it was exported with a fixed batch size of {runner.layout.batch} (export with a dynamic batch axis)",
        )
    if None in runner.layout.shape[1:]:
        return None, "its input shape is not fixed, so the conversion cannot be checked"
    probe = np.random.default_rng(0).random((3, *runner.layout.shape[1:])).astype(runner.layout.dtype)  # type: ignore[misc,arg-type]
    # onnxruntime first, under its time limit: a graph that never ends is refused before torch runs it unbounded
    want = run_session(runner.session, [runner.output_name], {runner.input_name: probe}, runner.path)[0]
    convert = _import_convert()
    if convert is None:
        return None, "onnx2torch is not installed (pip install --no-deps onnx2torch)"
    try:
        import onnx

        graph = convert(onnx.load(str(runner.path))).eval()
    except Exception as exc:  # onnx2torch raises NotImplementedError, KeyError, ... per unsupported graph
        return None, f"onnx2torch cannot convert it ({str(exc).splitlines()[0][:160]})"
    try:
        with torch.no_grad():
            got = graph(torch.from_numpy(probe)).float().numpy()
    except Exception as exc:  # a converted graph that fails on a batch of 3 is not usable
        return None, f"the converted graph fails on a batch ({str(exc).splitlines()[0][:160]})"
    gap = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    if gap > TOLERANCE:
        return None, f"the converted graph differs from onnxruntime by {gap:.3g} (more than {TOLERANCE:g})"
    return FromNCHW(graph, runner.layout).eval(), f"converted by onnx2torch, equal to onnxruntime within {gap:.1e}"
