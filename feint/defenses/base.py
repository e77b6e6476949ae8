"""What every training recipe shares: the per-batch step state, the recipe base class, the registry.

A recipe is a frozen dataclass of its settings with one hook that :func:`feint.train` calls on
every batch, ``batch_loss(model, x, y, step) -> loss``: a plain function of the model, the batch
and :class:`Step` (where the batch sits in training and the seed of its randomness). The loss
depends on nothing else (ensemble-at's draw counter only counts), so a wrapper
(``DistributedDataParallel``) can wrap ``model`` and a resumed run replays the same batches. Recipes that need resources (the static source models of
ensemble adversarial training, the teacher of distillation) return a bound copy from
:meth:`Recipe.prepare`. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from feint.errors import InputError

if TYPE_CHECKING:
    from feint.defenses.context import TrainContext
    from feint.defenses.guard import OverfitGuard
    from feint.threat import ThreatModel


@dataclass(frozen=True)
class Step:
    """One batch's place in training: ``epoch`` and ``batch`` count from 0; ``seed`` fixes its randomness."""

    epoch: int
    batch: int
    batches: int
    epochs: int
    seed: int

    @property
    def progress(self) -> float:
        """Fraction of training done before this batch, in [0, 1)."""
        return (self.epoch + self.batch / self.batches) / self.epochs

    def generator(self, device: torch.device) -> torch.Generator:
        """A generator on ``device`` seeded for this batch (the same batch draws the same numbers on resume)."""
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed)
        return gen


# The CNN every defense trains by default on the command line: the one fast-at's time target was
# tuned on, so that the recipes compare on one architecture (see benchmarks/defenses.py).
DEFENSE_ARCH: tuple[str, dict[str, Any]] = ("convnet", {})


class Recipe:
    """Base of the training recipes; subclasses are frozen dataclasses registered by name.

    ``train_defaults`` are the training settings (epochs, lr, batch size, optimizer) the recipe
    was tuned with, used where the caller gives none; ``default_arch`` is the architecture the
    command line uses when ``--arch`` is not given.
    """

    name: ClassVar[str] = ""
    public: ClassVar[bool] = True
    train_defaults: ClassVar[dict[str, Any]] = {}
    default_arch: ClassVar[tuple[str, dict[str, Any]]] = DEFENSE_ARCH

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        """The scalar loss to minimise on the batch ``(x, y)``."""
        raise NotImplementedError

    @property
    def threat(self) -> ThreatModel | None:
        """The threat model the recipe trains against (None when it has no radius, as distillation)."""
        return None

    def lr_factor(self, step: Step) -> float:
        """Multiplier of the base learning rate at ``step`` (a schedule); 1 by default."""
        return 1.0

    def prepare(self, context: TrainContext) -> Recipe:
        """Check the recipe against the training run and load what it needs; returns the recipe to use.

        Called once before the first batch, after the training data has been checked.
        """
        return self

    def guard_for(self, context: TrainContext) -> OverfitGuard | None:
        """An end-of-epoch check that may stop training (fast-at's catastrophic-overfitting guard)."""
        return None

    def statistics(self) -> dict[str, Any]:
        """Counts the recipe kept while training (saved in the run's history); none by default."""
        return {}

    def options(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (what ``config.json`` records)."""
        return {f.name: _plain(getattr(self, f.name)) for f in _user_fields(type(self))}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _user_fields(cls: type[Recipe]) -> list[dataclasses.Field[Any]]:
    """The settings a user gives (not those set by :meth:`Recipe.prepare`)."""
    return [f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")]  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class AdversarialRecipe(Recipe):
    """A recipe that trains against an Linf ``eps``-ball; the data's bounds are filled in by ``prepare``."""

    eps: float = 0.1
    bounds: tuple[float, float] = field(default=(0.0, 1.0), metadata={"internal": True})

    def __post_init__(self) -> None:
        if not isinstance(self.eps, (int, float)) or isinstance(self.eps, bool) or not self.eps > 0:
            raise InputError(f"{self.name} needs eps > 0 (the radius it trains against), got {self.eps!r}")
        if math.isinf(self.eps):
            raise InputError(f"{self.name} needs a finite eps, got {self.eps!r}")

    @property
    def threat(self) -> ThreatModel:
        from feint.threat import ThreatModel

        return ThreatModel("inf", self.eps, self.bounds)

    def prepare(self, context: TrainContext) -> Recipe:
        return dataclasses.replace(self, bounds=context.train_data.info.bounds)


R = TypeVar("R", bound=type[Recipe])
# The registry imports none of its members: importing any module of feint.defenses first runs the
# package's __init__, which imports every built-in recipe (each registers itself).
RECIPES: dict[str, type[Recipe]] = {}


def register_recipe(name: str) -> Callable[[R], R]:
    """Class decorator: record a recipe under ``name`` (the ``--recipe`` value)."""

    def deco(cls: R) -> R:
        cls.name = name
        RECIPES[name] = cls
        return cls

    return deco


def recipe_names() -> tuple[str, ...]:
    """The recipes a user chooses from (``--recipe``)."""
    return tuple(sorted(n for n, cls in RECIPES.items() if cls.public))


def option_names(name: str) -> tuple[str, ...]:
    """The options recipe ``name`` takes."""
    return tuple(f.name for f in _user_fields(get_recipe_class(name)))


def get_recipe_class(name: str) -> type[Recipe]:
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; choose one of {', '.join(recipe_names())}")
    return RECIPES[name]


def make_recipe(name: str, options: dict[str, Any] | None = None) -> Recipe:
    """Recipe ``name`` with ``options``; an option the recipe does not take is refused by name."""
    cls = get_recipe_class(name)
    options = dict(options or {})
    takes = option_names(name)
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise InputError(f"recipe {name!r} takes no option {', '.join(unknown)}; its options are {', '.join(takes)}")
    return cls(**options)
