"""Training settings as a frozen dataclass, saved beside every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from feint.errors import InputError
from feint.validation import check_choice, check_fraction, check_nonnegative, check_positive_int

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``adv`` names an attack from the registry applied to each batch.

    With an attack, the loss is Goodfellow et al. 2015's objective
    ``alpha * J(x, y) + (1 - alpha) * J(x_adv, y)`` (``adv_alpha``; alpha = 0 trains on
    adversarial inputs only, as Madry et al. 2018's PGD training does).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    adv: str | None = None
    adv_eps: float = 0.1
    adv_alpha: float = 0.5
    adv_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_nonnegative(self.lr, "lr")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        check_nonnegative(self.adv_eps, "adv_eps")
        check_fraction(self.adv_alpha, "adv_alpha")
        if self.adv is not None:
            from feint.attacks.registry import get_attack

            get_attack(self.adv)
        if not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
