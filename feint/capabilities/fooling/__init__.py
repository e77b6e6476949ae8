"""Fooling images: the report of unrecognisable images a model labels with high confidence (Nguyen et al. 2015); the attacks live in feint.attacks.fooling."""
