"""Measuring robustness: metrics, the audit and its report.

Import the parts you need (``feint.evaluate.metrics``, ``feint.evaluate.report_html``, ...);
this package imports nothing heavy on its own.
"""
