"""``feint certify``: randomized smoothing certificates (Cohen et al. 2019) as a report."""
