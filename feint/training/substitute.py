"""The substitute attack: learn a copy of a black-box classifier from its labels, then attack the copy.

Papernot, McDaniel, Goodfellow, Jha, Celik & Swami, "Practical Black-Box Attacks against Machine
Learning", AsiaCCS 2017, Algorithm 1, with the refinements of Papernot, McDaniel & Goodfellow 2016,
"Transferability in Machine Learning: from Phenomena to Black-Box Attacks using Adversarial
Samples" (periodic step size, reservoir sampling):

- the attacker holds a small set S_0 of held-out inputs (never the target's training set) and asks
  the oracle O only for labels;
- substitute round rho trains the substitute F on (S_rho, O(S_rho));
- Jacobian-based dataset augmentation then adds
  ``{x + lambda_rho * sign(J_F(x)[O(x)]) : x in S_rho}``, where ``J_F(x)[O(x)]`` is the gradient of
  F's logit for the oracle's label, and only these new points are sent to the oracle;
- the periodic step ``lambda_rho = lambda * (-1)^floor(rho / tau)`` turns back towards the data
  every ``tau`` rounds;
- from augmentation ``sigma`` on, only ``kappa`` points drawn at random from those added in the
  previous augmentation are augmented (reservoir sampling), so the oracle answers
  ``|S_0| * 2^sigma + kappa * (rounds - 1 - sigma)`` queries instead of ``|S_0| * 2^(rounds - 1)``;
- ``max_queries`` is exact: the last augmentation is cut to what the budget still allows.

``rounds`` counts substitute trainings, so ``rounds - 1`` augmentations happen between them.
Everything is seeded per round, so a run resumed from a saved :class:`SubstituteState` ends with
exactly the substitute an uninterrupted run would have. Shapes: x (N, C, H, W), labels (N,).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from feint.data.dataset import Dataset, DatasetInfo
from feint.errors import InputError
from feint.memory import check_allocation
from feint.models.registry import create_model
from feint.oracles.base import Oracle
from feint.training.substitute_config import RoundRecord, SubstituteConfig, planned_queries, planned_set_size
from feint.validation import Bounds, check_images

__all__ = [
    "RoundRecord",
    "SubstituteConfig",
    "SubstituteState",
    "check_seed_budget",
    "check_set_fits",
    "jacobian_augment",
    "planned_queries",
    "start_substitute",
    "train_substitute",
]


@dataclass
class SubstituteState:
    """Where training stands: the substitute, S_rho with its oracle labels, ``fresh`` (the rows the
    last augmentation added, with the ``step`` it used), the finished rounds, the training queries
    spent so far and notes. ``done`` once the last round is trained or the budget is spent."""

    model: nn.Module
    x: Tensor
    labels: Tensor
    fresh: Tensor
    num_classes: int
    step: float = 0.0
    records: list[RoundRecord] = field(default_factory=list)
    queries: int = 0
    notes: list[str] = field(default_factory=list)
    done: bool = False


def jacobian_augment(model: nn.Module, x: Tensor, labels: Tensor, *, step: float, bounds: Bounds) -> Tensor:
    """``clip(x + step * sign(d F(x)[label] / dx))``: one Jacobian-based augmentation of ``x`` (N, C, H, W)."""
    out = []
    model.eval()
    for i in range(0, x.shape[0], 1024):
        xb = x[i : i + 1024].detach().requires_grad_(True)
        with torch.enable_grad():
            logit = model(xb).gather(1, labels[i : i + 1024, None]).sum()
            (grad,) = torch.autograd.grad(logit, xb)
        out.append((xb.detach() + step * grad.sign()).clamp(*bounds))
    return torch.cat(out)


def _ask(oracle: Oracle, x: Tensor, num_classes: int) -> tuple[Tensor, int]:
    """The oracle's labels of ``x`` and the queries its own counter charged for them; a class the
    substitute does not have is an error."""
    before = oracle.queries
    labels = oracle.labels(x).to(x.device)
    if labels.numel() and int(labels.max()) >= num_classes:
        raise InputError(
            f"{oracle.name} answered class {int(labels.max())} but the substitute has {num_classes} classes; "
            "the target and the substitute must share their classes (pass data with the target's classes)"
        )
    return labels, oracle.queries - before


def _budget(oracle: Oracle, config: SubstituteConfig, spent: int) -> float:
    return min(math.inf if config.max_queries is None else config.max_queries - spent, oracle.remaining)


def check_seed_budget(n0: int, budget: float | None) -> None:
    """The budget must at least label S_0 (``n0`` inputs); ``None`` is no budget."""
    if budget is not None and n0 > budget:
        raise InputError(
            f"the query budget ({budget:g}) is smaller than |S0| = {n0}: the oracle could not even "
            "label the initial set; raise --max-queries or pass fewer initial inputs (--seed-size)"
        )


def check_set_fits(n0: int, config: SubstituteConfig, input_shape: tuple[int, ...]) -> None:
    """S after the last round (it doubles every round unless a budget or reservoir sampling bounds
    it), with its Jacobian augmentation (about 3 copies), must fit in memory."""
    pixels = 3 * math.prod(int(s) for s in input_shape)
    size = planned_set_size(n0, config)
    amount = f"{size:.3g}" if size < 1e270 else "over 1e270"  # planned_set_size stops doubling at 2^900
    check_allocation(
        size * pixels,
        what=f"the substitute's training set after {config.rounds:,} rounds (--rounds; {amount} inputs: S0 "
        "doubles every round)",
        fix="lower --rounds, or bound it with --max-queries or reservoir sampling (--sigma, --kappa)",
    )


def start_substitute(
    oracle: Oracle, x0: Tensor, *, config: SubstituteConfig, num_classes: int, bounds: Bounds = (0.0, 1.0)
) -> SubstituteState:
    """A fresh substitute and S_0 labelled by the oracle (|S_0| queries)."""
    if not isinstance(oracle, Oracle):
        raise InputError(
            f"the substitute attack queries an oracle, got {type(oracle).__name__}; wrap a model with "
            "feint.oracles.as_oracle(model, access='labels')"
        )
    check_images(x0, bounds=bounds, name="S0 (the attacker's initial inputs)")
    if oracle.input_shape is not None and tuple(x0.shape[1:]) != oracle.input_shape:
        raise InputError(
            f"S0 has inputs of shape {tuple(x0.shape[1:])} but {oracle.name} takes {oracle.input_shape}; "
            "draw S0 from data of the target's input shape"
        )
    if oracle.num_classes is not None and oracle.num_classes != num_classes:
        raise InputError(
            f"{oracle.name} has {oracle.num_classes} classes but the substitute would have {num_classes}; "
            "pass data with the target's classes"
        )
    check_seed_budget(int(x0.shape[0]), _budget(oracle, config, 0))
    check_set_fits(int(x0.shape[0]), config, tuple(x0.shape[1:]))
    torch.manual_seed(config.seed)
    shape = tuple(int(s) for s in x0.shape[1:])
    model = create_model(config.arch, input_shape=shape, num_classes=num_classes, **config.arch_kwargs)  # type: ignore[arg-type]
    labels, queries = _ask(oracle, x0, num_classes)
    fresh = torch.arange(x0.shape[0], device=x0.device)
    return SubstituteState(model.to(x0.device), x0.detach().clone(), labels, fresh, num_classes, queries=queries)


def _train_round(state: SubstituteState, config: SubstituteConfig, rho: int, bounds: Bounds) -> None:
    from feint.training.trainer import train

    classes = tuple(str(k) for k in range(state.num_classes))
    info = DatasetInfo("substitute training set", classes, tuple(state.x.shape[1:]), bounds)  # type: ignore[arg-type]
    train(
        state.model,
        Dataset(state.x, state.labels, info),
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=config.seed * 1000 + rho,
        device=state.x.device,
        progress=False,
        distributed=False,  # rank 0 alone trains the substitute under torchrun
    )
    state.model.eval()


def _augment(state: SubstituteState, oracle: Oracle, config: SubstituteConfig, rho: int, bounds: Bounds) -> None:
    """S_{rho+1} = S_rho + the augmented points (all of S_rho, or kappa of the last new ones); only
    the new points are sent to the oracle, at most as many as the budget allows."""
    gen = torch.Generator().manual_seed(config.seed * 7919 + rho)
    pick = torch.arange(state.x.shape[0], device=state.x.device)
    if config.sigma is not None and rho >= config.sigma:
        order = torch.randperm(state.fresh.numel(), generator=gen).to(state.fresh.device)
        pick = state.fresh[order[: config.kappa]]
    budget = _budget(oracle, config, state.queries)
    if budget < pick.numel():
        state.notes.append(
            f"round {rho + 1}: the query budget allowed {int(budget)} of {pick.numel()} new points; "
            "a random subset of that size was sent to the oracle"
        )
        pick = pick[torch.randperm(pick.numel(), generator=gen)[: int(budget)].to(pick.device)]
    step = config.step(rho)
    new = jacobian_augment(state.model, state.x[pick], state.labels[pick], step=step, bounds=bounds)
    labels, queries = _ask(oracle, new, state.num_classes)
    start = state.x.shape[0]
    state.x, state.labels = torch.cat([state.x, new]), torch.cat([state.labels, labels])
    state.fresh = torch.arange(start, state.x.shape[0], device=state.x.device)
    state.queries += queries
    state.step = step


def _agreement(model: nn.Module, x: Tensor, reference: Tensor) -> float:
    from feint.attacks.result import predict_logits

    return float((predict_logits(model, x).argmax(1) == reference).float().mean())


RoundCallback = Callable[[SubstituteState], None]


def train_substitute(
    oracle: Oracle,
    x0: Tensor,
    *,
    config: SubstituteConfig | None = None,
    num_classes: int,
    bounds: Bounds = (0.0, 1.0),
    check: tuple[Tensor, Tensor, Tensor | None] | None = None,
    state: SubstituteState | None = None,
    on_round: RoundCallback | None = None,
    progress: bool = True,
) -> SubstituteState:
    """Train a substitute of ``oracle`` from the initial inputs ``x0`` (S_0, (N0, C, H, W)).

    ``check = (x, oracle_labels, true_labels or None)`` measures after every round the substitute's
    agreement with the oracle (and its accuracy) on held-out inputs; ``state`` resumes a run;
    ``on_round(state)`` is called after every round (to save it). Returns the final state, whose
    ``model`` is the substitute in eval mode.
    """
    from feint.progress import bar, milestone

    config = config or SubstituteConfig()
    if state is None:
        state = start_substitute(oracle, x0, config=config, num_classes=num_classes, bounds=bounds)
    with bar(progress, total=config.rounds, initial=len(state.records), desc="substitute rounds") as shown:
        for rho in range(len(state.records), config.rounds):
            if state.done:
                break
            _train_round(state, config, rho, bounds)
            record = RoundRecord(rho, int(state.x.shape[0]), int(state.fresh.numel()), state.queries, state.step)
            if check is not None:
                record.agreement = _agreement(state.model, check[0], check[1])
                record.accuracy = _agreement(state.model, check[0], check[2]) if check[2] is not None else None
            state.records.append(record)
            if rho == config.rounds - 1:
                state.done = True
            elif _budget(oracle, config, state.queries) < 1:
                state.notes.append(f"the query budget was spent after round {rho}; training stopped there")
                state.done = True
            else:
                _augment(state, oracle, config, rho, bounds)
            agree = "" if record.agreement is None else f", agreement with the oracle {record.agreement:.4f}"
            milestone(progress, f"substitute round {rho}: {record.set_size} points, {record.queries} queries{agree}")
            shown.update(1)
            if on_round is not None:
                on_round(state)
    return state
