"""Defenses as training recipes on :func:`feint.train`'s per-batch hook.

``goodfellow`` (Goodfellow et al. 2015), ``pgd-at`` (Madry et al. 2018), ``fast-at`` (Wong et al.
2020, with the catastrophic-overfitting guard), ``trades`` (Zhang et al. 2019), ``ensemble-at``
(Tramèr et al. 2018), ``distill`` (Papernot et al. 2016), ``gaussian-noise`` (the base model of
randomized smoothing, Cohen et al. 2019; :func:`smooth` makes the smoothed classifier) and
``smooth-adv`` (its adversarial training, Salman et al. 2019)::

    import feint
    from feint.defenses import FastAT

    result = feint.train("convnet", train, test, recipe=FastAT(eps=0.1), out="runs/fast")
"""

from feint.defenses.base import RECIPES, Recipe, Step, get_recipe_class, make_recipe, option_names, recipe_names
from feint.defenses.distill import Distill, TemperatureSoftmax
from feint.defenses.ensemble import EnsembleAT
from feint.defenses.fast_at import FastAT
from feint.defenses.goodfellow import Goodfellow
from feint.defenses.noise import GaussianNoise
from feint.defenses.pgd_at import PGDAT
from feint.defenses.smooth_adv import SmoothAdv
from feint.defenses.smoothing import Certificates, Smoothed, smooth
from feint.defenses.trades import TRADES

__all__ = [
    "PGDAT",
    "RECIPES",
    "TRADES",
    "Certificates",
    "Distill",
    "EnsembleAT",
    "FastAT",
    "GaussianNoise",
    "Goodfellow",
    "Recipe",
    "SmoothAdv",
    "Smoothed",
    "Step",
    "TemperatureSoftmax",
    "get_recipe_class",
    "make_recipe",
    "option_names",
    "recipe_names",
    "smooth",
]
