"""The promises every capability room keeps, tested once over all of them: its public function returns a
:class:`~feint.report.Report` whose ``report.json`` matches its schema, whose ``report.html`` is
self-contained (no network, no script), that is silent with ``progress=False``, that ``save()`` writes
both files atomically, and that renders in a notebook (``_repr_html_``).

Add a room by appending a :class:`Case` to ``CASES``: a name, the schema and a ``run(ctx, **tail)``
that calls the public function on small inputs with the shared keyword tail.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from torch import nn

import feint.io
from feint.data import Dataset
from feint.report.report import Report
from feint.report.schema import validate


@dataclass(frozen=True)
class Ctx:
    """What the cases run on: a LeNet trained on digits and the digits splits."""

    model: nn.Module
    train: Dataset
    test: Dataset
    detector: Any  # a fitted kde-bu detector of ``model``


@dataclass(frozen=True)
class Case:
    name: str
    schema: Callable[[], dict[str, Any]]  # imported when the case runs
    run: Callable[..., Report]  # run(ctx, out=..., seed=..., progress=...)


def _audit(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.audit.run import audit

    return audit(c.model, c.test.head(12), eps=[0.1], preset="quick", **tail)


def _blackbox(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.blackbox.run import blackbox
    from feint.oracles import as_oracle
    from feint.training.substitute import SubstituteConfig

    config = SubstituteConfig(arch="softmax", rounds=2, epochs=1)
    seeds, held_out = c.test.x[100:120], c.test.head(16)
    return blackbox(as_oracle(c.model, access="labels"), seeds, held_out, eps=[0.1], config=config, **tail)


def _transfer(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.transfer.pair import transfer
    from feint.oracles import as_oracle

    return transfer(c.model, as_oracle(c.model, access="labels"), c.test.head(16), steps=(1,), eps=(0.1,), **tail)


def _matrix(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.transfer.matrix import transfer_matrix

    return transfer_matrix(c.train.head(200), c.test.head(16), techniques="lr,dt", **tail)


def _schema(module: str) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        import importlib

        return dict(importlib.import_module(module).REPORT_SCHEMA)

    return load


def _physical(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.physical.run import physical

    data = c.test.head(16)
    return physical(
        c.model, data.x, data.y, attacks=("fgsm",), eps=(0.1,), draws=1, sheet=4, data_info=data.info, **tail
    )


def _natural(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.physical.natural import natural
    from feint.measure.natural import SpatialGrid

    data = c.test.head(24)
    tail.pop("seed")  # nothing in it is random
    grid = SpatialGrid((0.0, 10.0), (0.0, 0.1))
    return natural(c.model, data.x, data.y, grid=grid, data_info=data.info, **tail)


def _fool(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.fooling.run import fool

    return fool(c.model, method="direct", generations=4, population=10, input_shape=(1, 8, 8), **tail)


def _detect(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.detect.run import detect

    data = c.test.head(40)
    return detect(c.detector, data.x, data.y, attacks=("fgsm",), adaptive_steps=3, data_info=data.info, **tail)


def _certify(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.certify.run import certify

    return certify(c.model, c.test.head(12), sigma=0.25, n0=10, n=50, **tail)


def _patch(c: Ctx, **tail: Any) -> Report:
    from feint.capabilities.patch.run import patch

    data = c.test.head(40)
    return patch(c.model, data.x, data.y, kind="patch", steps=3, draws=1, areas=(0.1,), data_info=data.info, **tail)


CASES = [
    Case("audit", _schema("feint.capabilities.audit.schema"), _audit),
    Case("blackbox", _schema("feint.capabilities.blackbox.report"), _blackbox),
    Case("transfer", _schema("feint.capabilities.transfer.pair_report"), _transfer),
    Case("transfer_matrix", _schema("feint.capabilities.transfer.matrix_report"), _matrix),
    Case("physical", _schema("feint.capabilities.physical.report"), _physical),
    Case("natural", _schema("feint.capabilities.physical.natural_report"), _natural),
    Case("fool", _schema("feint.capabilities.fooling.report"), _fool),
    Case("detect", _schema("feint.capabilities.detect.schema"), _detect),
    Case("certify", _schema("feint.capabilities.certify.report"), _certify),
    Case("patch", _schema("feint.capabilities.patch.report"), _patch),
]


@pytest.fixture(scope="module")
def ctx(lenet_digits: nn.Module, digits_train: Dataset, digits_test: Dataset, kde_detector: Any) -> Ctx:
    return Ctx(lenet_digits, digits_train, digits_test, kde_detector)


NETWORK = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", flags=re.I)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_capability_returns_a_report_that_keeps_the_contract(
    case: Case, ctx: Ctx, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed: list[str] = []
    real_replace = os.replace

    def recording_replace(src: Any, dst: Any) -> None:
        renamed.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(feint.io.os, "replace", recording_replace)
    out = tmp_path / "out"
    report = case.run(ctx, out=out, seed=0, progress=False)
    assert capsys.readouterr() == ("", "")  # silent with progress=False: no bar, no milestone, no print
    assert isinstance(report, Report)

    schema = case.schema()
    assert validate(report.to_dict(), schema) == []
    on_disk = json.loads((out / "report.json").read_text())
    assert validate(on_disk, schema) == [] and on_disk == json.loads(report.json)
    assert report.schema == on_disk["schema"] and report.json_path == out / "report.json"

    page = (out / "report.html").read_text()
    assert page == report.html and report.html_path == out / "report.html"
    assert not NETWORK.search(page), "report.html loads something from the network"
    assert "<script" not in page.lower()
    assert {"report.json", "report.html"} <= set(renamed)  # each written to a temporary name, then renamed
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]

    frame = report._repr_html_()
    assert frame.startswith("<iframe") and html_lib.escape(page, quote=True) in frame
    assert report.summary().strip()
