"""The capabilities, one folder each: a run module whose public function returns a report, the
report's schema and terminal summary, and its HTML page.

- ``audit/``: the robustness audit (attacks, checks, the escalation ladder, BPDA/EOT, resumable state);
- ``blackbox/``: the substitute attack against a model that can only be queried, and its measurement;
- ``transfer/``: transfer between two models (pair) and across model families (matrix);
- ``physical/``: destruction rates through the print-and-photo pipeline;
- ``fooling/``: the fooling-images report;
- ``detect/``: the evaluation of a detector against attacks that know about it.

No capability imports another: what two of them share lives one floor down (``feint.measure``,
``feint.report``). The package imports nothing on its own.
"""
