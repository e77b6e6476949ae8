"""Measurement blocks shared by more than one capability: metrics, clean baselines, default eps
grids, and accuracy under natural variation (with its report section).

Import the parts you need (``feint.measure.metrics``, ...); this package imports nothing heavy.
"""
