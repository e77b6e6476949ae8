"""The substitute (black-box) attack: Papernot et al. 2017's substitute training with Jacobian-based augmentation, its measurement against the oracle, report and page."""
