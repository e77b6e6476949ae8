"""Compositional pattern-producing networks (Stanley 2007), the indirect encoding of Nguyen et al. 2015.

A CPPN is a small feed-forward graph evaluated at every pixel: its inputs are the pixel's
coordinates ``x`` and ``y`` in [-1, 1], its distance ``d`` from the centre and a bias of 1; hidden
nodes apply a sine, Gaussian, sigmoid or linear activation to the weighted sum of their inputs;
each output node (one per channel) applies a sigmoid, which is the pixel's intensity in [0, 1]
before it is mapped to the bounds. Regular, symmetric and repeating patterns come out naturally.

A genome is immutable data and is saved as JSON (never pickled): :meth:`CPPN.to_dict` /
:meth:`CPPN.from_dict`, :func:`save_cppns` / :func:`load_cppns`; loading checks node kinds,
activations and that the graph has no cycle, so a saved genome renders the same image again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feint.errors import InputError
from feint.io import write_json

INPUTS = ("x", "y", "d", "bias")
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sine": np.sin,
    "gaussian": lambda v: np.exp(-(v**2)),
    "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2)),
    "linear": lambda v: v,
}
FORMAT = "feint.cppn/1"


@dataclass(frozen=True)
class Connection:
    source: int
    target: int
    weight: float


@dataclass(frozen=True)
class CPPN:
    """Node ids: inputs ``0..3`` (x, y, d, bias), outputs ``4..4+channels-1``, hidden nodes after.

    ``hidden`` maps each hidden node id to its activation; ``connections`` are the weighted edges.
    """

    channels: int
    hidden: tuple[tuple[int, str], ...]
    connections: tuple[Connection, ...]

    @property
    def outputs(self) -> tuple[int, ...]:
        return tuple(range(len(INPUTS), len(INPUTS) + self.channels))

    @property
    def activation(self) -> dict[int, str]:
        return dict(self.hidden)

    def next_id(self) -> int:
        return max([len(INPUTS) + self.channels - 1, *(h for h, _ in self.hidden)]) + 1

    def order(self) -> list[int]:
        """Hidden and output nodes in an order where every node comes after its sources; raises on a cycle."""
        nodes = [h for h, _ in self.hidden] + list(self.outputs)
        incoming = {n: {c.source for c in self.connections if c.target == n and c.source >= len(INPUTS)} for n in nodes}
        done: list[int] = []
        ready = set(range(len(INPUTS)))
        while len(done) < len(nodes):
            layer = sorted(n for n in nodes if n not in ready and incoming[n] <= ready)
            if not layer:
                raise InputError("the CPPN's connections form a cycle; a CPPN must be feed-forward")
            done += layer
            ready |= set(layer)
        return done

    def render(self, height: int, width: int) -> np.ndarray:
        """The image (channels, height, width) in [0, 1] (float32)."""
        ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
        values: dict[int, np.ndarray] = {0: xs, 1: ys, 2: np.sqrt(xs**2 + ys**2) / math.sqrt(2), 3: np.ones_like(xs)}
        activation = self.activation
        for node in self.order():
            total = np.zeros_like(xs)
            for c in self.connections:
                if c.target == node:
                    total = total + c.weight * values[c.source]
            values[node] = ACTIVATIONS[activation.get(node, "sigmoid")](total)
        return np.stack([values[o] for o in self.outputs]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "hidden": [[h, a] for h, a in self.hidden],
            "connections": [[c.source, c.target, c.weight] for c in self.connections],
        }

    @classmethod
    def from_dict(cls, data: Any) -> CPPN:
        """Rebuild a genome from :meth:`to_dict`'s output, checking every field."""
        try:
            channels = int(data["channels"])
            hidden = tuple((int(h), str(a)) for h, a in data["hidden"])
            connections = tuple(Connection(int(s), int(t), float(w)) for s, t, w in data["connections"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a CPPN genome ({exc}); expected channels, hidden and connections") from exc
        genome = cls(channels, hidden, connections)
        genome.check()
        return genome

    def check(self) -> None:
        """Raise :class:`InputError` unless node ids, activations, edges and weights make a valid CPPN."""
        if self.channels < 1:
            raise InputError(f"a CPPN needs at least one output channel, got {self.channels}")
        first_hidden = len(INPUTS) + self.channels
        ids = [h for h, _ in self.hidden]
        if len(set(ids)) != len(ids) or any(h < first_hidden for h in ids):
            raise InputError(f"CPPN hidden node ids must be distinct and at least {first_hidden}")
        bad = sorted({a for _, a in self.hidden} - set(ACTIVATIONS))
        if bad:
            raise InputError(f"unknown CPPN activation {bad[0]!r}; use one of {', '.join(ACTIVATIONS)}")
        targets = set(ids) | set(self.outputs)
        sources = set(ids) | set(range(len(INPUTS)))
        for c in self.connections:
            if c.source not in sources or c.target not in targets or not math.isfinite(c.weight):
                raise InputError(f"CPPN connection {c.source}->{c.target} ({c.weight}) is not valid")
        self.order()


def save_cppns(path: str | os.PathLike[str], genomes: Sequence[CPPN], *, shape: Sequence[int] | None = None) -> Path:
    """Write ``genomes`` (and the image shape they were rendered at) as JSON, atomically."""
    payload = {"format": FORMAT, "shape": list(shape) if shape else None, "genomes": [g.to_dict() for g in genomes]}
    return write_json(path, payload)


def load_cppns(path: str | os.PathLike[str]) -> list[CPPN]:
    """The genomes saved by :func:`save_cppns` (JSON only; nothing is executed)."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read CPPN genomes from {str(path)!r}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} is not a {FORMAT} file (written by feint's save_cppns)")
    return [CPPN.from_dict(g) for g in payload.get("genomes") or []]
