"""Training settings as a frozen dataclass, saved beside every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from feint.defenses.base import Recipe, make_recipe
from feint.errors import InputError
from feint.validation import check_choice, check_nonnegative, check_positive_int

OPTIMIZERS = ("adam", "sgd")
# Used where neither the caller nor the recipe (its ``train_defaults``) sets a value.
BASE_DEFAULTS: dict[str, Any] = {"epochs": 10, "batch_size": 64, "lr": 1e-3, "optimizer": "adam"}


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    ``recipe`` names a defense from :mod:`feint.defenses` (``"pgd-at"``, ``"fast-at"``, ...) or is
    a recipe object (``FastAT(eps=0.1)``); ``recipe_options`` are its settings by name. After
    construction ``recipe`` is the name and ``recipe_options`` every setting of the recipe, and
    ``epochs``, ``batch_size``, ``lr`` and ``optimizer`` left as None take the recipe's defaults
    (then :data:`BASE_DEFAULTS`). ``robust_eps`` is the radius of the robust accuracy reported per
    epoch (default: the recipe's eps, else a tenth of the input range; 0 turns it off).
    """

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    weight_decay: float = 0.0
    seed: int = 0
    recipe: Any = None
    recipe_options: dict[str, Any] = field(default_factory=dict)
    robust_eps: float | None = None

    def __post_init__(self) -> None:
        recipe = self.recipe
        if isinstance(recipe, Recipe):
            if self.recipe_options:
                raise InputError("pass the recipe's options either in the recipe object or in recipe_options, not both")
            recipe = make_recipe(recipe.name, recipe.options())
        elif recipe is not None:
            if not isinstance(recipe, str):
                raise InputError(f"recipe must be a recipe name or a feint.defenses recipe, got {recipe!r}")
            if not isinstance(self.recipe_options, dict):
                raise InputError(f"recipe_options must be a dict, got {self.recipe_options!r}")
            recipe = make_recipe(recipe, self.recipe_options)
        elif self.recipe_options:
            raise InputError("recipe options were given without a recipe; pass recipe=... (e.g. 'pgd-at')")
        object.__setattr__(self, "recipe", recipe.name if recipe is not None else None)
        object.__setattr__(self, "recipe_options", recipe.options() if recipe is not None else {})
        defaults = {**BASE_DEFAULTS, **(recipe.train_defaults if recipe is not None else {})}
        for key, value in defaults.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        check_positive_int(self.epochs, "epochs")  # type: ignore[arg-type]
        check_positive_int(self.batch_size, "batch_size")  # type: ignore[arg-type]
        check_nonnegative(self.lr, "lr")  # type: ignore[arg-type]
        check_nonnegative(self.weight_decay, "weight_decay")
        check_choice(self.optimizer, OPTIMIZERS, "optimizer")  # type: ignore[arg-type]
        if self.robust_eps is not None:
            check_nonnegative(self.robust_eps, "robust_eps")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InputError(f"seed must be an integer, got {self.seed!r}")

    def build_recipe(self) -> Recipe | None:
        """The recipe object (None for plain training)."""
        return make_recipe(self.recipe, self.recipe_options) if self.recipe is not None else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
