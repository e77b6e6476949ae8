"""Model mutation operators of Wang et al. 2019 (after Ma et al. 2018, "DeepMutation").

Wang, Dong, Sun, Wang & Zhang, "Adversarial Sample Detection for Deep Neural Network through
Model Mutation Testing", ICSE 2019. Each operator returns new values for some of the weights of a
copy of the model; the original is never touched. A *neuron* is an output unit of a linear layer
or an output channel of a convolution (row ``i`` of its weight, shape (out, ...), and ``bias[i]``).

- GF, Gaussian fuzzing: ``rate`` of the weights of every layer get Gaussian noise with that
  layer's weight standard deviation.
- WS, weight shuffling: ``rate`` of the neurons have their incoming weights shuffled.
- NS, neuron switch: ``rate`` of the neurons (at least two per touched layer) swap places with
  one another inside their layer (weights and bias), exchanging their roles for the next layer.
- NAI, neuron activation inverse: ``rate`` of the neurons have weights and bias negated, which
  flips the sign of their pre-activation output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from feint.errors import InputError, ModelError

OPERATORS = ("gf", "ws", "ns", "nai")
Mutation = dict[str, Tensor]  # parameter name -> its mutated value


@dataclass(frozen=True)
class MutableLayer:
    """A linear or (non-transposed) convolution layer: its parameter names and neuron count."""

    module: str
    weight: str
    bias: str | None
    neurons: int


def mutable_layers(model: nn.Module, names: tuple[str, ...] | None = None) -> list[MutableLayer]:
    """Linear and convolution layers of ``model`` (only those in ``names`` when given)."""
    found = []
    for name, module in model.named_modules():
        is_conv = isinstance(module, nn.modules.conv._ConvNd) and not module.transposed
        if not (isinstance(module, nn.Linear) or is_conv):
            continue
        if names is not None and name not in names:
            continue
        prefix = f"{name}." if name else ""
        bias = f"{prefix}bias" if getattr(module, "bias", None) is not None else None
        found.append(MutableLayer(name, f"{prefix}weight", bias, int(module.weight.shape[0])))
    if names is not None:
        missing = sorted(set(names) - {layer.module for layer in found})
        if missing:
            available = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
            raise InputError(
                f"the model has no linear or convolution layer named {', '.join(map(repr, missing))}; "
                f"its layers are: {', '.join(available) or 'none'}"
            )
    if not found:
        raise ModelError(
            "the model has no linear or convolution layer to mutate; mutation testing needs nn.Linear or nn.Conv layers"
        )
    return found


def _pick_neurons(layers: list[MutableLayer], rate: float, gen: torch.Generator, minimum: int = 1) -> list[Tensor]:
    """``rate`` of all neurons drawn without replacement across layers; per layer, the chosen rows."""
    total = sum(layer.neurons for layer in layers)
    count = min(total, max(minimum, round(rate * total)))
    chosen = torch.randperm(total, generator=gen)[:count]
    rows, start = [], 0
    for layer in layers:
        mine = chosen[(chosen >= start) & (chosen < start + layer.neurons)] - start
        rows.append(mine.sort().values)
        start += layer.neurons
    return rows


def gaussian_fuzzing(params: Mutation, layers: list[MutableLayer], rate: float, gen: torch.Generator) -> Mutation:
    out: Mutation = {}
    for layer in layers:
        w = params[layer.weight]
        count = round(rate * w.numel())
        if count == 0:
            continue
        idx = torch.randperm(w.numel(), generator=gen)[:count]
        noise = torch.randn(count, generator=gen) * float(w.detach().float().std())
        new = w.detach().cpu().clone().view(-1)
        new[idx] += noise.to(new.dtype)
        out[layer.weight] = new.view_as(w)
    if not out:  # a rate so small no layer got a single weight: fuzz one, so the mutant differs
        layer = layers[int(torch.randint(len(layers), (1,), generator=gen))]
        return gaussian_fuzzing(params, [layer], 1.0 / params[layer.weight].numel(), gen)
    return out


def weight_shuffling(params: Mutation, layers: list[MutableLayer], rate: float, gen: torch.Generator) -> Mutation:
    out: Mutation = {}
    for layer, rows in zip(layers, _pick_neurons(layers, rate, gen), strict=True):
        if rows.numel() == 0:
            continue
        w = params[layer.weight].detach().cpu().clone()
        flat = w.view(w.shape[0], -1)
        order = torch.rand(rows.numel(), flat.shape[1], generator=gen).argsort(1)
        flat[rows] = flat[rows].gather(1, order)
        out[layer.weight] = w
    return out


def _with_rows(params: Mutation, layer: MutableLayer, rows: Tensor, new_rows: Tensor, sign: float) -> Mutation:
    """Layer parameters where row ``rows[i]`` takes ``sign *`` the old row ``new_rows[i]`` (weights and bias)."""
    out: Mutation = {}
    for key in (layer.weight, layer.bias):
        if key is None:
            continue
        value = params[key].detach().cpu().clone()
        value[rows] = sign * params[key].detach().cpu()[new_rows]
        out[key] = value
    return out


def neuron_switch(params: Mutation, layers: list[MutableLayer], rate: float, gen: torch.Generator) -> Mutation:
    out: Mutation = {}
    for layer, rows in zip(layers, _pick_neurons(layers, rate, gen, minimum=2), strict=True):
        if rows.numel() < 2:
            continue
        shift = int(torch.randint(1, rows.numel(), (1,), generator=gen))
        out.update(_with_rows(params, layer, rows, rows.roll(shift), 1.0))  # a cyclic shift moves every chosen neuron
    if not out:  # the chosen neurons fell one per layer: switch two neurons of the widest layer
        widest = max(layers, key=lambda layer: layer.neurons)
        if widest.neurons < 2:
            raise ModelError("no layer has two neurons to switch; use another mutation operator")
        rows = torch.randperm(widest.neurons, generator=gen)[:2]
        out.update(_with_rows(params, widest, rows, rows.flip(0), 1.0))
    return out


def neuron_activation_inverse(
    params: Mutation, layers: list[MutableLayer], rate: float, gen: torch.Generator
) -> Mutation:
    out: Mutation = {}
    for layer, rows in zip(layers, _pick_neurons(layers, rate, gen), strict=True):
        if rows.numel():
            out.update(_with_rows(params, layer, rows, rows, -1.0))
    return out


_FUNCTIONS: dict[str, Callable[[Mutation, list[MutableLayer], float, torch.Generator], Mutation]] = {
    "gf": gaussian_fuzzing,
    "ws": weight_shuffling,
    "ns": neuron_switch,
    "nai": neuron_activation_inverse,
}


def mutate(operator: str, params: Mutation, layers: list[MutableLayer], rate: float, gen: torch.Generator) -> Mutation:
    """One mutant: new values (on the CPU) for the parameters ``operator`` changed."""
    return _FUNCTIONS[operator](params, layers, rate, gen)
