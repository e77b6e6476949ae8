"""A griffe extension for the API reference: Sphinx roles in docstrings become code spans.

feint's docstrings cross-reference with Sphinx roles (``:func:`feint.train```,
``:class:`~feint.oracles.ScoreOracle```), which Markdown would print as they are. This turns each
into a code span (``~`` keeps the last name only, as Sphinx does). Loaded by mkdocs.yml.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _span(match: re.Match[str]) -> str:
    name = match.group(2)
    return f"`{name.rsplit('.', 1)[-1] if match.group(1) else name}`"


class SphinxRolesAsCode(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_span, obj.docstring.value)
