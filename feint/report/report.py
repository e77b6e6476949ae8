"""The one result type every capability returns: :class:`Report`.

A report is the versioned, JSON-safe dict of a run (its ``schema`` key names the schema and version),
the page that renders it and the terminal summary that reads it. The same object answers a Python
user (``report["worst_case"]``, ``report.summary()``), a notebook (``_repr_html_``) and the command
line (which prints ``summary()`` and calls ``save(out)``).
"""

from __future__ import annotations

import copy
import html as html_lib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from feint.report.files import json_safe, write_report

Page = Callable[[dict[str, Any]], str]
Summary = Callable[[dict[str, Any]], str]
ExtraFile = Callable[[Path], Path]


@dataclass(frozen=True, eq=False)
class Report:
    """A run's report: ``data`` (the schema's dict), how to render it (``page``) and summarize it
    (``summarize``), the files written (``paths``: ``json``, ``html`` and any extras) and ``notes``
    for the terminal (warnings the run raised).

    ``extras`` maps a file name to a writer ``(folder) -> path`` for files that go beside report.json
    (images, an ``.npz`` of adversarial examples); each writer must write atomically
    (:mod:`feint.io`).
    """

    data: dict[str, Any]
    page: Page
    summarize: Summary
    paths: Mapping[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    extras: Mapping[str, ExtraFile] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        """The schema and version, e.g. ``feint.audit/2``."""
        return str(self.data.get("schema", ""))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the report dict (what ``report.json`` holds)."""
        return copy.deepcopy(self.data)

    @property
    def json(self) -> str:
        """``report.json``'s text: the dict with nan/inf as null, tensors and arrays as lists."""
        return json.dumps(json_safe(self.data), indent=2)

    @cached_property
    def html(self) -> str:
        """``report.html``'s text: a self-contained page (no network, no script)."""
        return self.page(self.data)

    def summary(self) -> str:
        """The terminal summary, then the run's notes, one per line (``note: ...``)."""
        lines = [self.summarize(self.data), *(f"note: {note}" for note in self.notes)]
        return "\n".join(line for line in lines if line)

    def save(self, out: str | os.PathLike[str]) -> Report:
        """Write ``out/report.json``, ``out/report.html`` and the extras, each atomically; returns the
        report with ``paths`` filled in."""
        folder = Path(out)
        paths: dict[str, Path] = dict(write_report(folder, self.data, self.html))
        for name, write in self.extras.items():
            paths[name] = write(folder)
        return replace(self, paths=paths)

    @property
    def json_path(self) -> Path | None:
        return self.paths.get("json")

    @property
    def html_path(self) -> Path | None:
        return self.paths.get("html")

    def _repr_html_(self) -> str:
        """The page in a sandboxed frame, so that its stylesheet does not leak into the notebook."""
        return (
            f'<iframe srcdoc="{html_lib.escape(self.html, quote=True)}" sandbox '
            'style="width:100%;height:640px;border:1px solid #ddd"></iframe>'
        )

    def __repr__(self) -> str:
        where = f", saved to {self.paths['json'].parent}" if "json" in self.paths else ""
        return f"<Report {self.schema}{where}>"
