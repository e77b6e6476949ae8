"""A registry of attacks by name, used by the CLI (``--attack NAME --param k=v``) and configs.

The functions stay the truth: an entry only records a function, its documented defaults and what
it supports.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import Tensor

from feint.errors import InputError

if TYPE_CHECKING:
    from feint.attacks.result import AttackResult

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AttackSpec:
    name: str
    fn: Callable[..., Any]
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    norms: tuple[str, ...] = ("inf",)
    targeted: bool = True
    minimum_norm: bool = False
    access: str = "white-box"

    def parameters(self) -> dict[str, Any]:
        """Keyword options with their defaults (registry defaults override the signature's)."""
        sig = inspect.signature(self.fn)
        params = {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in sig.parameters.values()
            if p.kind == inspect.Parameter.KEYWORD_ONLY
        }
        params.update(self.defaults)
        return params


ATTACKS: dict[str, AttackSpec] = {}


def register_attack(
    name: str,
    *,
    defaults: dict[str, Any] | None = None,
    norms: tuple[str, ...] = ("inf",),
    targeted: bool = True,
    minimum_norm: bool = False,
    access: str = "white-box",
) -> Callable[[F], F]:
    """Decorator: record ``fn`` under ``name``; the first docstring line is its summary. ``access`` is
    what the attack needs: "white-box" (gradients), "scores" or "labels" (it takes an oracle)."""

    def deco(fn: F) -> F:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
        ATTACKS[name] = AttackSpec(name, fn, summary, dict(defaults or {}), norms, targeted, minimum_norm, access)
        return fn

    return deco


def get_attack(name: str) -> AttackSpec:
    if name not in ATTACKS:
        raise InputError(f"unknown attack {name!r}; available: {', '.join(sorted(ATTACKS))}")
    return ATTACKS[name]


def attack(name: str, model: Any, x: Tensor, y: Tensor, **options: Any) -> AttackResult:
    """Run the attack registered as ``name`` on the inputs ``x`` (N, C, H, W) with labels ``y`` (N,).

    ``name`` is one of :data:`ATTACKS` (``"pgd"``, ``"apgd"``, ``"cw"``, ``"square"``, ``"hopskipjump"``,
    ...); an unknown name is one :class:`~feint.errors.InputError` that lists the names. ``model`` is
    what the attack takes: an ``nn.Module`` that returns logits for a white-box attack, or an oracle
    (or a module, degraded to one) for a score- or label-only attack (``get_attack(name).access``).
    ``options`` are the attack function's keyword options (``eps=0.1, steps=40, norm="inf"``; see
    ``help(feint.attacks.<name>)``); those not given take the registry's defaults, then the
    function's. An option the attack does not take, or a value of the wrong type, is refused by
    name. Returns the :class:`~feint.attacks.result.AttackResult` (``x_adv``, ``success``,
    distances, queries), checked outside the attack::

        result = feint.attack("pgd", model, x, y, eps=0.1, steps=20)
        print(result.success.float().mean())
    """
    spec = get_attack(name)
    allowed = spec.parameters()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"attack {name!r} has no parameter {', '.join(unknown)}; its parameters are {', '.join(sorted(allowed))}"
        )
    signature = inspect.signature(spec.fn).parameters
    checked = {key: check_param(key, value, signature[key].annotation) for key, value in options.items()}
    result: AttackResult = spec.fn(model, x, y, **{**spec.defaults, **checked})
    return result


# The name the library's own modules and older code call it by.
run_attack = attack


def check_param(key: str, value: Any, annotation: Any) -> Any:
    """``value`` checked against the type its parameter is annotated with (options often come from text:
    ``--param seed=abc``); a number given for a string option (``norm=2``) becomes its text."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    kinds = {part.strip() for part in text.split("|")}
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None and "None" in kinds:
        return value
    if "bool" in kinds and not isinstance(value, bool):
        raise InputError(f"{key} must be true or false, got {value!r}")
    if "int" in kinds and "float" not in kinds and (not isinstance(value, int) or isinstance(value, bool)):
        raise InputError(f"{key} must be an integer, got {value!r}")
    if "float" in kinds and not number:
        raise InputError(f"{key} must be a number, got {value!r}")
    if "str" in kinds:
        if number:
            return "inf" if value == float("inf") else str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            raise InputError(f"{key} must be text, got {value!r}")
    if "Tensor" in kinds and not isinstance(value, torch.Tensor):
        raise InputError(f"{key} must be a tensor (give target labels with targeted=True, target=...), got {value!r}")
    return value


def full_strength(spec: AttackSpec, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with early stopping off where the attack has it (an explicit value is kept): every
    step is taken, as adversarial training and transfer need; an example stopped at its first
    success sits at the edge of the model's decision boundary and transfers poorly."""
    if "early_stop" in spec.parameters():
        return {"early_stop": False, **params}
    return dict(params)
