"""Corpus rows: bad arguments to the Python API (attacks, sweeps, audits, training)."""

from __future__ import annotations

import math

import torch

import feint
from corpus import Case
from corpus.models import digits_batch, linear
from feint.attacks import (
    apgd,
    apgd_t,
    cw,
    deepfool,
    fgsm,
    jsma,
    mifgsm,
    pgd,
    rand_fgsm,
    square,
    sweep,
)
from feint.data import load
from feint.errors import InputError
from feint.threat import ThreatModel
from feint.training import TrainConfig


def py(id: str, call: object, phrase: str, error: type[BaseException] = InputError, defect: int | None = None) -> Case:
    return Case(id, call=call, error=error, phrase=phrase, defect=defect)  # type: ignore[arg-type]


X, Y = digits_batch()
PY_ROWS = [
    py("py-x-nan", lambda c: fgsm(linear(), X.clone().fill_(math.nan), Y, eps=0.1), "x contains NaN"),
    py("py-x-uint8", lambda c: fgsm(linear(), (X * 255).to(torch.uint8), Y, eps=0.1), "float pixels"),
    py("py-x-3d", lambda c: fgsm(linear(), X[:, 0], Y, eps=0.1), "NCHW"),
    py("py-x-empty", lambda c: fgsm(linear(), X[:0], Y[:0], eps=0.1), "empty batch"),
    py("py-x-not-a-tensor", lambda c: fgsm(linear(), X.numpy(), Y, eps=0.1), "must be a torch.Tensor"),
    py("py-x-out-of-bounds", lambda c: fgsm(linear(), X * 2, Y, eps=0.1), "outside the bounds"),
    py("py-y-float", lambda c: fgsm(linear(), X, Y.float(), eps=0.1), "integer class indices"),
    py("py-y-out-of-range", lambda c: fgsm(linear(), X, Y + 10, eps=0.1), "labels must lie in"),
    py("py-y-short", lambda c: fgsm(linear(), X, Y[:3], eps=0.1), "one class index per input"),
    py("py-eps-negative", lambda c: fgsm(linear(), X, Y, eps=-0.1), "eps must be a number >= 0"),
    py("py-eps-text", lambda c: fgsm(linear(), X, Y, eps="0.1"), "eps must be a number >= 0"),
    py("py-eps-bool", lambda c: fgsm(linear(), X, Y, eps=True), "eps must be a number >= 0"),
    py("py-bounds-reversed", lambda c: fgsm(linear(), X, Y, eps=0.1, bounds=(1, 0)), "low < high"),
    py(
        "py-bounds-infinite",
        lambda c: fgsm(linear(), X, Y, eps=0.1, bounds=(0, math.inf)),
        "two finite numbers",
        defect=5,
    ),
    py(
        "py-bounds-text",
        lambda c: fgsm(linear(), X, Y, eps=0.1, bounds="ab"),
        r"bounds must be \(low, high\)",
        defect=5,
    ),
    py("py-targeted-without-target", lambda c: fgsm(linear(), X, Y, eps=0.1, targeted=True), "needs target labels"),
    py("py-target-without-targeted", lambda c: fgsm(linear(), X, Y, eps=0.1, target=Y), "targeted=False"),
    py(
        "py-target-out-of-range",
        lambda c: fgsm(linear(), X, Y, eps=0.1, targeted=True, target=Y + 10),
        "target has labels",
    ),
    py("py-pgd-steps-zero", lambda c: pgd(linear(), X, Y, eps=0.1, steps=0), "steps must be an integer >= 1"),
    py(
        "py-pgd-step-size-inf",
        lambda c: pgd(linear(), X, Y, eps=0.1, step_size=math.inf),
        "step_size must be a finite number",
    ),
    py(
        "py-mifgsm-decay-inf",
        lambda c: mifgsm(linear(), X, Y, eps=0.1, decay=math.inf),
        "decay must be a finite number",
    ),
    py(
        "py-rand-fgsm-alpha-over-capped-eps",
        lambda c: rand_fgsm(linear(), X, Y, eps=5.0, alpha=3.0),
        r"alpha must lie in \[0, eps\] = \[0, 1\] \(eps 5 is capped at the bounds' range\)",
        defect=1,
    ),
    py("py-jsma-gamma-too-small", lambda c: jsma(linear(), X, Y, gamma=0.01), "raise gamma"),
    py("py-jsma-theta-zero", lambda c: jsma(linear(), X, Y, theta=0), "theta must be"),
    py("py-cw-lr-zero", lambda c: cw(linear(), X, Y, lr=0.0), "lr must be > 0"),
    py("py-deepfool-targeted", lambda c: deepfool(linear(), X, Y, targeted=True, target=Y), "untargeted only"),
    py("py-square-l1", lambda c: square(linear(), X, Y, eps=1.0, norm="1"), "'inf' and '2'"),
    py("py-apgd-unknown-loss", lambda c: apgd(linear(), X, Y, eps=0.1, loss="xx"), "unknown loss"),
    py(
        "py-apgd-t-three-classes",
        lambda c: apgd_t(linear(3), X, Y % 3, eps=0.1),
        r"apgd-t needs at least 4 classes .* use apgd-ce",
        defect=6,
    ),
    py("py-sweep-no-eps", lambda c: sweep("fgsm", linear(), X, Y, eps=[]), "non-empty sequence"),
    py("py-audit-eps-inf", lambda c: feint.audit(linear(), X, Y, eps=[math.inf], progress=False), "finite in an audit"),
    py("py-audit-norm-1", lambda c: feint.audit(linear(), X, Y, norm="1", progress=False), "unknown audit norm"),
    py("py-threat-norm", lambda c: ThreatModel("l7", 0.1), "unknown norm"),
    py(
        "py-train-config-adv-eps",
        lambda c: TrainConfig(recipe="goodfellow", recipe_options={"attack_params": {"eps": 0.3}}),
        "would be ignored",
        defect=4,
    ),
    py(
        "py-train-test-other-shape",
        lambda c: feint.train(
            "softmax", load("digits", "train").head(20), _resized(load("digits", "test").head(5)), progress=False
        ),
        "does not match the training data",
        defect=5,
    ),
    py(
        "py-train-diverges",
        lambda c: feint.train(
            "softmax",
            load("digits", "train").head(256),
            lr=1e37,
            optimizer="sgd",
            epochs=2,
            batch_size=16,
            progress=False,
        ),
        "training diverged in epoch 1",
    ),
]


def _resized(data: feint.data.Dataset) -> feint.data.Dataset:
    from dataclasses import replace

    x = torch.nn.functional.interpolate(data.x, size=(6, 6))
    return replace(data, x=x, info=replace(data.info, input_shape=(1, 6, 6)))


ROWS = PY_ROWS
