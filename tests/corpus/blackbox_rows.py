"""Corpus rows: query-only models (URLs, ONNX, skops, pickles) and query budgets (issue 9)."""

from __future__ import annotations

import pickle

from corpus import Case, Ctx
from corpus.model_dir_rows import attack_with


def _svc(c: Ctx) -> object:
    from sklearn.svm import SVC

    from feint.data import load

    data = load("digits", "train").head(200)
    return SVC().fit(data.x.flatten(1).numpy(), data.y.numpy())


def _skops(c: Ctx) -> None:
    import skops.io as sio

    sio.dump(_svc(c), c.tmp / "svc.skops")


def _two_inputs(c: Ctx) -> None:
    import torch
    from torch import nn

    class TwoInputs(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a + b).flatten(1)[:, :3]

    pair = (torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    torch.onnx.export(TwoInputs(), pair, str(c.tmp / "two.onnx"), dynamo=False)


ROWS = [
    Case("url-unreachable", cli=attack_with("http://127.0.0.1:9/v2/models/m", "--attack", "square"), phrase="cannot connect"),
    Case("url-not-v2-path", cli=attack_with("http://127.0.0.1:9/models/m", "--attack", "square"), phrase="not a model URL"),
    Case("onnx-corrupt", make=lambda c: (c.tmp / "bad.onnx").write_bytes(b"\x08junk"), cli=attack_with("{tmp}/bad.onnx"), phrase="not a readable ONNX model"),
    Case("onnx-two-inputs", make=_two_inputs, cli=attack_with("{tmp}/two.onnx"), phrase="has 2 inputs"),
    Case("skops-corrupt", make=lambda c: (c.tmp / "bad.skops").write_bytes(b"not a zip"), cli=attack_with("{tmp}/bad.skops"), phrase="not a readable skops file"),
    Case("pickle-untrusted", make=lambda c: (c.tmp / "m.pkl").write_bytes(pickle.dumps(_svc(c))), cli=attack_with("{tmp}/m.pkl", "--attack", "square"), phrase="is a pickle.*--trust-file"),
    Case("skops-white-box-attack", make=_skops, cli=attack_with("{tmp}/svc.skops", "--attack", "pgd"), phrase="pgd needs white-box access"),
    Case("budget-zero", cli=attack_with("{run}", "--attack", "hopskipjump", "--queries-per-input", "0"), phrase="--queries-per-input must be an integer >= 1"),
    Case("budget-on-white-box", cli=attack_with("{run}", "--attack", "fgsm", "--queries-per-input", "10"), phrase="sets a black-box attack's budget"),
    Case("budget-old-total-name", cli=attack_with("{run}", "--attack", "square", "--max-queries", "10"), phrase="per input: use --queries-per-input"),
    Case("hsj-eps-without-norm", cli=attack_with("{run}", "--attack", "hopskipjump"), phrase="L2 norm by default.*--norm 2.*--norm inf"),
]  # fmt: skip
