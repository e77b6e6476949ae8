"""Detector evaluation: a fitted detector measured against attacks, including attacks that know about it; the estimators live in feint.detectors."""
