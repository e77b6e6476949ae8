"""The promises every capability's public function keeps, tested once over all of them (DESIGN.md:
"test the contract once, over every member"): it returns a :class:`~feint.report.Report` whose
``report.json`` is valid against its schema, whose page is self-contained (no network address, no
script), that is silent with ``progress=False``, that ``save()`` writes both files, and that
renders in a notebook (``_repr_html_``).

A capability joins by appending a :class:`Case` to :data:`CASES`: a small run on the digits
LeNet (``run`` gets pytest's ``request`` to reach fixtures) and where its schema lives.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from feint.report import Report
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[pytest.FixtureRequest], Report]
    schema: str  # "module:NAME" of the report's JSON schema


def _digits(request: pytest.FixtureRequest, n: int) -> tuple[Any, Any, Any]:
    data = request.getfixturevalue("digits_test").head(n)
    return request.getfixturevalue("lenet_digits"), data.x, data


def _physical(request: pytest.FixtureRequest) -> Report:
    from feint.capabilities.physical.run import physical

    model, x, data = _digits(request, 16)
    return physical(model, x, data.y, attacks=("fgsm",), eps=(0.1,), draws=1, sheet=4, data_info=data.info)


def _natural(request: pytest.FixtureRequest) -> Report:
    from feint.capabilities.physical.natural import natural
    from feint.measure.natural import SpatialGrid

    model, x, data = _digits(request, 24)
    return natural(model, x, data.y, grid=SpatialGrid((0.0, 10.0), (0.0, 0.1)), data_info=data.info)


def _fool(request: pytest.FixtureRequest) -> Report:
    from feint.capabilities.fooling.run import fool

    model = request.getfixturevalue("lenet_digits")
    return fool(model, method="direct", generations=4, population=10, input_shape=(1, 8, 8))


def _detect(request: pytest.FixtureRequest) -> Report:
    from feint.capabilities.detect.run import detect

    data = request.getfixturevalue("digits_test").head(40)
    detector = request.getfixturevalue("kde_detector")
    return detect(detector, data.x, data.y, attacks=("fgsm",), adaptive_steps=3, data_info=data.info)


CASES = [
    Case("physical", _physical, "feint.capabilities.physical.report:REPORT_SCHEMA"),
    Case("natural", _natural, "feint.capabilities.physical.natural_report:REPORT_SCHEMA"),
    Case("fool", _fool, "feint.capabilities.fooling.report:REPORT_SCHEMA"),
    Case("detect", _detect, "feint.capabilities.detect.schema:REPORT_SCHEMA"),
]
NETWORK = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_capability_returns_a_report_that_keeps_the_contract(case: Case, request, capfd, tmp_path) -> None:
    for fixture in ("digits_test", "lenet_digits", "kde_detector"):  # fixtures' own work is not the run's output
        request.getfixturevalue(fixture)
    capfd.readouterr()
    report = case.run(request)
    assert capfd.readouterr() == ("", ""), "progress=False (the default) must print nothing"
    assert isinstance(report, Report) and report.paths == {}
    module, name = case.schema.split(":")
    schema = getattr(importlib.import_module(module), name)
    data = json.loads(report.json)
    assert validate(data, schema) == [] and report.schema == data["schema"]
    assert report.html.startswith("<!DOCTYPE html>") and "<script" not in report.html.lower()
    assert not NETWORK.search(report.html), NETWORK.search(report.html)
    assert report.summary().strip(), "the terminal summary says something"
    saved = report.save(tmp_path / "out")
    assert json.loads(saved.paths["json"].read_text()) == data
    assert saved.paths["html"].read_text() == report.html
    assert all(path.is_file() and path.parent == tmp_path / "out" for path in saved.paths.values())
    shown = report._repr_html_()
    assert shown.startswith("<iframe") and "&lt;!DOCTYPE html&gt;" in shown
