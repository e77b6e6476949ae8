"""Fooling images: unrecognisable inputs a model labels with high confidence.

Nguyen, Yosinski & Clune 2015, "Deep Neural Networks are Easily Fooled: High Confidence
Predictions for Unrecognizable Images":

- :func:`fool_direct`: evolution with a direct (pixel) encoding and polynomial mutation;
- :func:`fool_cppn`: evolution with a CPPN (indirect) encoding, weight and topology mutations;
- :func:`fool_gradient`: gradient ascent on a class score from noise or a blank image.

The two evolutionary methods need only class scores: they run on a
:class:`~feint.oracles.ScoreOracle` (a torch module is degraded to one), a whole population per
batched query. :func:`fool` picks a method by name. Each returns a
:class:`~feint.attacks.fooling.result.FoolingResult` with the best image per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from feint.attacks.fooling.cppn import CPPN, load_cppns, save_cppns
from feint.attacks.fooling.cppn_evolution import CPPNMutation, fool_cppn
from feint.attacks.fooling.direct import fool_direct, polynomial_mutation
from feint.attacks.fooling.gradient import fool_gradient
from feint.attacks.fooling.result import METHODS, FoolingResult
from feint.oracles import Oracle
from feint.validation import check_choice, check_positive_int

__all__ = [
    "CPPN",
    "METHODS",
    "CPPNMutation",
    "FoolingResult",
    "fool",
    "fool_cppn",
    "fool_direct",
    "fool_gradient",
    "load_cppns",
    "polynomial_mutation",
    "save_cppns",
]


def fool(
    model: nn.Module | Oracle,
    *,
    method: str = "direct",
    generations: int = 200,
    input_shape: Sequence[int] | None = None,
    seed: int = 0,
    progress: bool = False,
    **options: Any,
) -> FoolingResult:
    """Run the fooling method ``method`` (direct, cppn or gradient) for ``generations`` generations
    (gradient: steps); ``options`` go to that method's function."""
    check_choice(method, METHODS, "fooling method")
    check_positive_int(generations, "generations")
    common = {"input_shape": input_shape, "seed": seed, "progress": progress, **options}
    if method == "direct":
        return fool_direct(model, generations=generations, **common)
    if method == "cppn":
        return fool_cppn(model, generations=generations, **common)
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
    return fool_gradient(model, steps=generations, **{**common, "input_shape": input_shape})  # type: ignore[arg-type]
