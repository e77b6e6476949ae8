"""Report building blocks every command shares, and the one result type: :class:`Report`.

- :mod:`feint.report.report`: :class:`Report`, what every capability's function returns;
- :mod:`feint.report.html`: the page shell (:func:`~feint.report.html.page`), stylesheet, tables,
  verdict box, escaping and number formatting;
- :mod:`feint.report.plots`: figures as ``data:`` URIs (line plots, heat maps, image tiles);
- :mod:`feint.report.gallery`: picking and drawing clean / adversarial image pairs;
- :mod:`feint.report.schema`: versioned JSON schemas and a validator;
- :mod:`feint.report.provenance`: version, git revision and time stamps;
- :mod:`feint.report.files`: writing ``report.json`` and ``report.html`` atomically.

A report is a JSON-safe dict whose ``schema`` key names its schema and version, plus a
self-contained HTML page rendered from that dict (no network, no script).
"""

from feint.report.report import Report

__all__ = ["Report"]
