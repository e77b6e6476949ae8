"""Training settings as a frozen dataclass, saved beside every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from feint.errors import InputError
from feint.validation import check_choice, check_fraction, check_nonnegative, check_positive_int

OPTIMIZERS = ("adam", "sgd")
_SET_BY_TRAINING = {
    "eps": "the attack's eps is --adv-eps (adv_eps=...)",
    "seed": "each batch's attack seed comes from the training --seed",
    "bounds": "the attack works in the bounds of the training data",
    "targeted": "adversarial training attacks the true labels (untargeted)",
    "target": "adversarial training attacks the true labels (untargeted)",
}


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
        self._check_adv_params()
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InputError(f"seed must be an integer, got {self.seed!r}")

    def _check_adv_params(self) -> None:
        """Every attack option must take effect: refuse those that training sets itself or the attack lacks."""
        if not isinstance(self.adv_params, dict):
            raise InputError(f"adv_params must be a dict of attack options, got {self.adv_params!r}")
        if self.adv is None:
            if self.adv_params:
                raise InputError("attack options (--adv-param) were given without an attack; add --adv NAME")
            return
        import inspect

        from feint.attacks.registry import check_param, get_attack

        spec = get_attack(self.adv)
        accepted = spec.parameters()
        annotations = inspect.signature(spec.fn).parameters
        for key, value in self.adv_params.items():
            if key in _SET_BY_TRAINING:
                raise InputError(f"--adv-param {key}=... would be ignored: {_SET_BY_TRAINING[key]}")
            if key not in accepted:
                raise InputError(
                    f"attack {self.adv!r} has no option {key!r}; its options are "
                    f"{', '.join(sorted(set(accepted) - set(_SET_BY_TRAINING)))}"
                )
            check_param(key, value, annotations[key].annotation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
