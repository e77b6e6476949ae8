"""Fooling images with a direct encoding: the genome is the image itself.

Nguyen, Yosinski & Clune 2015, section 2.2: every pixel starts uniformly random; each is chosen for
mutation with a probability that starts at 0.1 and is halved every ``halve_every`` generations
(1000 by default, their schedule: a run of a few hundred generations, like theirs on MNIST, keeps
0.1, which on the Fashion-MNIST benchmark beats halving every 50), and a chosen pixel changes by
polynomial mutation (Deb & Agrawal 1995; the bounded form of Deb 2001) with a distribution index
``eta`` of 15. Selection is MAP-Elites on the class
scores (:func:`~feint.attacks.fooling.evolution.map_elites`). Shapes: genomes (C, H, W) in bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from feint.attacks.fooling.evolution import image_shape, map_elites, model_device, score_oracle
from feint.attacks.fooling.result import FoolingResult
from feint.errors import InputError
from feint.oracles import Oracle
from feint.threat import make_generator
from feint.validation import Bounds, check_fraction, check_nonnegative, check_positive_int


def polynomial_mutation(
    x: Tensor, *, rate: float, eta: float, bounds: Bounds, generator: torch.Generator | None = None
) -> Tensor:
    """Each element of ``x`` is mutated with probability ``rate`` by bounded polynomial mutation
    with distribution index ``eta`` (larger: smaller steps); the result stays inside ``bounds``."""
    lo, hi = bounds
    width = hi - lo
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    chosen = torch.rand(x.shape, generator=generator, device=x.device) < rate
    power = 1.0 / (eta + 1.0)
    below = (x - lo) / width
    above = (hi - x) / width
    down = (2 * u + (1 - 2 * u) * (1 - below) ** (eta + 1)).clamp_min(0) ** power - 1
    up = 1 - (2 * (1 - u) + 2 * (u - 0.5) * (1 - above) ** (eta + 1)).clamp_min(0) ** power
    step = torch.where(u < 0.5, down, up) * width
    return torch.where(chosen, (x + step).clamp(lo, hi), x)


@dataclass(frozen=True)
class DirectEncoding:
    """Pixels as genes: uniform start, polynomial mutation at a rate halved every ``halve_every`` generations."""

    shape: tuple[int, int, int]
    bounds: Bounds = (0.0, 1.0)
    rate: float = 0.1
    halve_every: int = 1000
    eta: float = 15.0
    device: torch.device | str = "cpu"
    name: str = "direct"

    def __post_init__(self) -> None:
        check_fraction(self.rate, "mutation rate")
        check_positive_int(self.halve_every, "halve_every")
        check_nonnegative(self.eta, "eta (the polynomial mutation's distribution index)")

    def rate_at(self, generation: int) -> float:
        """The per-pixel mutation probability in ``generation`` (0-based)."""
        return self.rate * 0.5 ** (generation // self.halve_every)

    def _generator(self, rng: np.random.Generator) -> torch.Generator | None:
        return make_generator(int(rng.integers(2**62)), torch.device(self.device))

    def initial(self, n: int, rng: np.random.Generator) -> list[Tensor]:
        lo, hi = self.bounds
        gen = self._generator(rng)
        return list((lo + (hi - lo) * torch.rand((n, *self.shape), generator=gen, device=self.device)).unbind(0))

    def mutate(self, parents: Sequence[Tensor], generation: int, rng: np.random.Generator) -> list[Tensor]:
        batch = torch.stack(list(parents))
        rate = self.rate_at(generation)
        out = polynomial_mutation(batch, rate=rate, eta=self.eta, bounds=self.bounds, generator=self._generator(rng))
        return list(out.unbind(0))

    def render(self, genomes: Sequence[Tensor]) -> Tensor:
        return torch.stack(list(genomes))


def fool_direct(
    model: nn.Module | Oracle,
    *,
    generations: int = 200,
    population: int = 100,
    rate: float = 0.1,
    halve_every: int = 1000,
    eta: float = 15.0,
    input_shape: Sequence[int] | None = None,
    max_queries: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> FoolingResult:
    """Evolve one directly encoded fooling image per class (Nguyen et al. 2015) with score queries only.

    ``model`` is a :class:`~feint.oracles.ScoreOracle` or a torch module (used only through its
    scores); ``input_shape`` (C, H, W) is needed when the oracle does not know it. Each generation
    is one batched query of ``population`` rows.
    """
    oracle = score_oracle(model, input_shape=input_shape, max_queries=max_queries)
    if rate <= 0:
        raise InputError(f"mutation rate must be above 0, got {rate!r}")
    device = model_device(model)
    encoding = DirectEncoding(image_shape(oracle, input_shape), oracle.bounds, rate, halve_every, eta, device)
    return map_elites(
        oracle, encoding, generations=generations, population=population, seed=seed, progress=progress, device=device
    )
