"""MAP-Elites over class scores: evolution of fooling images with only query access.

Nguyen, Yosinski & Clune 2015 evolve images with MAP-Elites (Mouret & Clune 2015): the archive
keeps one champion per class, and a champion is replaced whenever an offspring scores higher on
that class. Each generation here draws ``population`` parents uniformly from the archive, mutates
them with the encoding's operators and scores the whole population with one batched query to a
:class:`~feint.oracles.ScoreOracle`; fitness is the softmax score of each class. No gradient and no
label beyond the scores is used, so the search runs unchanged against a model behind an API.

An encoding says how a genome becomes an image and how it mutates
(:class:`~feint.attacks.fooling.direct.DirectEncoding`, :class:`~feint.attacks.fooling.cppn.CPPNEncoding`).
Shapes: images (P, C, H, W) in the oracle's bounds; scores (P, K).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from feint.attacks.fooling.result import FoolingResult, finish, oracle_confidence
from feint.errors import InputError
from feint.memory import check_allocation
from feint.oracles import Oracle, ScoreOracle, as_oracle
from feint.oracles.base import BudgetedScores, QueryBudgetExhausted
from feint.progress import bar, milestone
from feint.validation import check_positive_int


class Encoding(Protocol):
    """How genomes become images and how they vary; ``rng`` drives every random choice."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the rendered images."""
        ...

    @property
    def name(self) -> str:
        """``"direct"`` or ``"cppn"``: the method the result records."""
        ...

    def initial(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` random genomes."""
        ...

    def mutate(self, parents: Sequence[Any], generation: int, rng: np.random.Generator) -> list[Any]:
        """One mutated offspring per parent (parents are never changed in place)."""
        ...

    def render(self, genomes: Sequence[Any]) -> Tensor:
        """(len(genomes), C, H, W) images in the encoding's bounds."""
        ...


def score_oracle(
    model: nn.Module | Oracle, *, input_shape: Sequence[int] | None, max_queries: int | None
) -> ScoreOracle:
    """``model`` as score-only access under ``max_queries`` (an oracle's own budget holds as well);
    an oracle that answers only labels cannot drive evolution."""
    if isinstance(model, Oracle) and not isinstance(model, ScoreOracle):
        raise InputError(
            f"{model.name} answers only labels, but evolving fooling images needs class scores; "
            "give a score oracle (access='scores') or use a model that returns scores"
        )
    if isinstance(model, nn.Module):
        return as_oracle(model, access="scores", input_shape=input_shape, max_queries=max_queries)  # type: ignore[return-value]
    if not isinstance(model, ScoreOracle):
        raise InputError(f"expected a torch.nn.Module or a ScoreOracle, got {type(model).__name__}")
    return model if max_queries is None else BudgetedScores(model, max_queries=max_queries)


def model_device(model: nn.Module | Oracle) -> torch.device:
    """Where the images live: a module's parameters' device, the CPU for an oracle."""
    if isinstance(model, nn.Module):
        first = next(iter(model.parameters()), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def image_shape(oracle: ScoreOracle, input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    """(C, H, W) of the images to evolve: ``input_shape`` or the oracle's."""
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else oracle.input_shape
    if shape is None:
        raise InputError("the oracle does not say its input shape; pass input_shape=(C, H, W)")
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"input_shape must be (C, H, W) with positive sizes, got {shape}")
    return shape  # type: ignore[return-value]


def check_population_fits(rows: int, shape: Sequence[int], *, fix: str = "lower --population") -> None:
    """``rows`` images of ``shape`` (and as many again while they are mutated and scored) must fit in memory."""
    size = "x".join(str(int(s)) for s in shape)
    check_allocation(
        2 * rows * math.prod(int(s) for s in shape),
        what=f"{rows:,} image(s) of {size} at once",
        fix=f"{fix}, or give the model's real input shape (--input-shape C,H,W)",
    )


def map_elites(
    oracle: ScoreOracle,
    encoding: Encoding,
    *,
    generations: int,
    population: int,
    seed: int = 0,
    progress: bool = False,
    device: torch.device | str = "cpu",
) -> FoolingResult:
    """Evolve one champion per class for ``generations`` generations of ``population`` offspring.

    The initial population is ``population`` random genomes; every class's first champion is the
    genome scoring highest on it. The search stops early, keeping its champions, when the oracle's
    budget cannot pay for another generation and the final check.
    """
    check_positive_int(generations, "generations")
    check_positive_int(population, "population")
    check_population_fits(population, encoding.shape)
    rng = np.random.default_rng(seed)
    start, before = time.perf_counter(), oracle.queries
    genomes = encoding.initial(population, rng)
    images = encoding.render(genomes).to(device)
    conf = oracle_confidence(oracle, images)
    k = conf.shape[1]
    if not oracle.can_afford(k):
        raise QueryBudgetExhausted(f"{oracle.name}: the budget leaves no queries to check the {k} champions")
    fitness, best = conf.max(0)
    champions = [genomes[i] for i in best.tolist()]
    champion_images = images[best].clone()
    history, stopped = [fitness.clone()], None
    with bar(progress, total=generations, desc=f"fool ({encoding.name})") as shown:
        for g in range(generations):
            if not oracle.can_afford(population + k):
                stopped = f"query budget spent after {g} generations"
                break
            parents = [champions[i] for i in rng.integers(k, size=population).tolist()]
            children = encoding.mutate(parents, g, rng)
            images = encoding.render(children).to(device)
            top, idx = oracle_confidence(oracle, images).max(0)
            better = (top > fitness).nonzero().flatten().tolist()
            for c in better:
                champions[c] = children[int(idx[c])]
                champion_images[c] = images[idx[c]]
            fitness = torch.maximum(fitness, top)
            history.append(fitness.clone())
            shown.update(1)
            shown.set_postfix_str(f"median {float(fitness.median()):.4f} min {float(fitness.min()):.4f}")
            if (g + 1) % max(1, generations // 10) == 0:
                milestone(progress, _line(encoding.name, g + 1, fitness, oracle.queries - before))
    return finish(
        oracle,
        champion_images,
        history,
        queries_before=before,
        seconds=time.perf_counter() - start,
        method=encoding.name,
        stopped=stopped,
        genomes=tuple(champions) if encoding.name == "cppn" else None,
    )


def _line(name: str, generation: int, fitness: Tensor, queries: int) -> str:
    return (
        f"fool ({name}): generation {generation}, confidence median {float(fitness.median()):.4f} "
        f"min {float(fitness.min()):.4f}, {queries} queries"
    )
