"""Evolving CPPN-encoded fooling images (Nguyen, Yosinski & Clune 2015, section 2.2).

Genomes start minimal, as in NEAT (Stanley & Miikkulainen 2002): every input wired to every
output, plus a few hidden nodes. Each offspring perturbs its weights and, each with its own
probability, adds a node (splitting a connection), adds a connection (keeping the graph
feed-forward), removes a hidden node or a connection, or changes a hidden node's activation.
Selection is MAP-Elites on the class scores (:func:`~feint.attacks.fooling.evolution.map_elites`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from feint.attacks.fooling.cppn import ACTIVATIONS, CPPN, INPUTS, Connection
from feint.attacks.fooling.evolution import image_shape, map_elites, model_device, score_oracle
from feint.attacks.fooling.result import FoolingResult
from feint.oracles import Oracle
from feint.validation import Bounds, check_fraction, check_nonnegative

NAMES = tuple(ACTIVATIONS)


@dataclass(frozen=True)
class CPPNMutation:
    """Mutation probabilities per offspring (weights: per connection) and the weight step size."""

    weight_rate: float = 0.5
    weight_step: float = 0.5
    weight_limit: float = 8.0
    add_node: float = 0.1
    add_connection: float = 0.2
    remove_node: float = 0.05
    remove_connection: float = 0.05
    change_activation: float = 0.1

    def __post_init__(self) -> None:
        for name in (
            "weight_rate",
            "add_node",
            "add_connection",
            "remove_node",
            "remove_connection",
            "change_activation",
        ):
            check_fraction(getattr(self, name), f"CPPN {name.replace('_', ' ')} probability")
        check_nonnegative(self.weight_step, "CPPN weight step")
        check_nonnegative(self.weight_limit, "CPPN weight limit")


def _weight(rng: np.random.Generator) -> float:
    return float(rng.normal(0.0, 1.5))


def minimal(channels: int, rng: np.random.Generator, *, hidden_nodes: int = 2) -> CPPN:
    """Every input connected to every output with random weights, then ``hidden_nodes`` node splits."""
    outputs = range(len(INPUTS), len(INPUTS) + channels)
    genome = CPPN(channels, (), tuple(Connection(i, o, _weight(rng)) for i in range(len(INPUTS)) for o in outputs))
    for _ in range(hidden_nodes):
        genome = add_node(genome, rng)
    return genome


def perturb_weights(genome: CPPN, rng: np.random.Generator, settings: CPPNMutation) -> CPPN:
    limit = settings.weight_limit
    out = []
    for c in genome.connections:
        w = c.weight
        if rng.random() < settings.weight_rate:
            w = float(np.clip(w + rng.normal(0.0, settings.weight_step), -limit, limit))
        out.append(Connection(c.source, c.target, w))
    return replace(genome, connections=tuple(out))


def add_node(genome: CPPN, rng: np.random.Generator) -> CPPN:
    """Split a random connection s->t (weight w) into s->h (1) and h->t (w) with a new node h."""
    if not genome.connections:
        return genome
    i = int(rng.integers(len(genome.connections)))
    old = genome.connections[i]
    new = genome.next_id()
    activation = NAMES[int(rng.integers(len(NAMES)))]
    kept = genome.connections[:i] + genome.connections[i + 1 :]
    wires = (Connection(old.source, new, 1.0), Connection(new, old.target, old.weight))
    return replace(genome, hidden=(*genome.hidden, (new, activation)), connections=kept + wires)


def _reaches(genome: CPPN, start: int, goal: int) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += [c.target for c in genome.connections if c.source == node]
    return False


def add_connection(genome: CPPN, rng: np.random.Generator, *, tries: int = 10) -> CPPN:
    """A new weighted edge between two unconnected nodes that keeps the graph acyclic."""
    hidden = [h for h, _ in genome.hidden]
    sources, targets = list(range(len(INPUTS))) + hidden, hidden + list(genome.outputs)
    existing = {(c.source, c.target) for c in genome.connections}
    for _ in range(tries):
        s, t = sources[int(rng.integers(len(sources)))], targets[int(rng.integers(len(targets)))]
        if s != t and (s, t) not in existing and not _reaches(genome, t, s):
            return replace(genome, connections=(*genome.connections, Connection(s, t, _weight(rng))))
    return genome


def remove_node(genome: CPPN, rng: np.random.Generator) -> CPPN:
    if not genome.hidden:
        return genome
    node = genome.hidden[int(rng.integers(len(genome.hidden)))][0]
    return replace(
        genome,
        hidden=tuple(h for h in genome.hidden if h[0] != node),
        connections=tuple(c for c in genome.connections if node not in (c.source, c.target)),
    )


def remove_connection(genome: CPPN, rng: np.random.Generator) -> CPPN:
    if not genome.connections:
        return genome
    i = int(rng.integers(len(genome.connections)))
    return replace(genome, connections=genome.connections[:i] + genome.connections[i + 1 :])


def change_activation(genome: CPPN, rng: np.random.Generator) -> CPPN:
    if not genome.hidden:
        return genome
    i = int(rng.integers(len(genome.hidden)))
    hidden = list(genome.hidden)
    hidden[i] = (hidden[i][0], NAMES[int(rng.integers(len(NAMES)))])
    return replace(genome, hidden=tuple(hidden))


def mutate(genome: CPPN, rng: np.random.Generator, settings: CPPNMutation) -> CPPN:
    """One offspring: weights perturbed, then each structural mutation with its probability."""
    genome = perturb_weights(genome, rng, settings)
    if rng.random() < settings.add_node:
        genome = add_node(genome, rng)
    if rng.random() < settings.add_connection:
        genome = add_connection(genome, rng)
    if rng.random() < settings.remove_node:
        genome = remove_node(genome, rng)
    if rng.random() < settings.remove_connection:
        genome = remove_connection(genome, rng)
    if rng.random() < settings.change_activation:
        genome = change_activation(genome, rng)
    return genome


@dataclass(frozen=True)
class CPPNEncoding:
    """CPPN genomes rendered at ``shape`` (C, H, W) and mapped to ``bounds``."""

    shape: tuple[int, int, int]
    bounds: Bounds = (0.0, 1.0)
    mutation: CPPNMutation = CPPNMutation()
    device: torch.device | str = "cpu"
    name: str = "cppn"

    def initial(self, n: int, rng: np.random.Generator) -> list[CPPN]:
        return [minimal(self.shape[0], rng) for _ in range(n)]

    def mutate(self, parents: Sequence[CPPN], generation: int, rng: np.random.Generator) -> list[CPPN]:
        return [mutate(p, rng, self.mutation) for p in parents]

    def render(self, genomes: Sequence[CPPN]) -> Tensor:
        _, height, width = self.shape
        lo, hi = self.bounds
        images = torch.from_numpy(np.stack([g.render(height, width) for g in genomes]))
        return (lo + (hi - lo) * images).to(self.device)


def fool_cppn(
    model: nn.Module | Oracle,
    *,
    generations: int = 200,
    population: int = 100,
    mutation: CPPNMutation | None = None,
    input_shape: Sequence[int] | None = None,
    max_queries: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> FoolingResult:
    """Evolve one CPPN-encoded fooling image per class (Nguyen et al. 2015) with score queries only.

    The result's ``genomes`` hold each image's CPPN (save them with :func:`~feint.attacks.fooling.cppn.save_cppns`).
    """
    oracle = score_oracle(model, input_shape=input_shape, max_queries=max_queries)
    device = model_device(model)
    encoding = CPPNEncoding(image_shape(oracle, input_shape), oracle.bounds, mutation or CPPNMutation(), device)
    return map_elites(
        oracle, encoding, generations=generations, population=population, seed=seed, progress=progress, device=device
    )
