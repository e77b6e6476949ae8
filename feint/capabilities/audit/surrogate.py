"""The audit's transfer rung for a query-only model: a surrogate fitted on the model's own answers.

Papernot et al. 2017 ("Practical Black-Box Attacks against Machine Learning", Algorithm 1): a
substitute trained on the oracle's labels of the attacker's inputs, grown by Jacobian-based dataset
augmentation (:func:`feint.training.substitute.train_substitute`). The audit's inputs are the
attacker's inputs here (the audit attacks exactly them), so the copy is fitted where it is needed.
The fit is seeded, so a resumed audit refits the same surrogate; its queries count against the
audit's budget and are reported. A user's own surrogate (``feint.audit(..., surrogate=module)``,
``feint audit --surrogate``) replaces the fit. Shapes: x (N, C, H, W).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from feint.capabilities.audit.runner import AuditSetup
from feint.data.rows import whole
from feint.errors import InputError
from feint.oracles import Oracle, QueryBudgetExhausted
from feint.training.substitute import SubstituteConfig, train_substitute

RECORD = "surrogate"
# Four rounds (three augmentations): |S0| * 8 queries in all; a lenet copy of a digits lenet then
# agrees with it on 94% of held-out inputs (an MLP copy: 94%, but its examples transfer less).
ROUNDS = 4
EPOCHS = 10


def _arch(x_shape: tuple[int, ...]) -> str:
    """A small CNN for images of at least 8 x 8 pixels, else an MLP."""
    return "lenet" if len(x_shape) == 3 and min(x_shape[1:]) >= 8 else "mlp"


def fit_surrogate(setup: AuditSetup, *, progress: bool = False) -> tuple[nn.Module | None, dict[str, Any]]:
    """Fit a surrogate of the audit's oracle on its labels of the audit's inputs (plus augmentations).

    Returns the surrogate (None when the query budget cannot label even the inputs) and a record:
    ``queries`` spent, ``rounds``, the architecture and a ``note`` in words.
    """
    oracle = setup.model
    assert isinstance(oracle, Oracle)
    num_classes = int(setup.clean_logits.shape[1])
    config = SubstituteConfig(
        arch=_arch(tuple(setup.x.shape[1:])),
        rounds=ROUNDS,
        lam=0.1 * (setup.bounds[1] - setup.bounds[0]),
        epochs=EPOCHS,
        seed=setup.seed,
    )
    before = oracle.queries
    try:
        state = train_substitute(
            oracle, whole(setup.x), config=config, num_classes=num_classes, bounds=setup.bounds, progress=progress
        )
    except (QueryBudgetExhausted, InputError) as exc:
        if isinstance(exc, InputError) and "budget" not in str(exc):
            raise
        spent = oracle.queries - before
        return None, {"queries": spent, "rounds": 0, "arch": config.arch, "note": f"no surrogate: {exc}"}
    record = {
        "queries": oracle.queries - before,
        "rounds": len(state.records),
        "arch": config.arch,
        "note": (
            f"a {config.arch} fitted on the model's labels of the {setup.x.shape[0]} audit inputs and "
            f"{state.x.shape[0] - setup.x.shape[0]} Jacobian augmentations (Papernot et al. 2017)"
        ),
    }
    return state.model.eval(), record


def user_record(surrogate: nn.Module) -> dict[str, Any]:
    return {"queries": 0, "rounds": 0, "arch": type(surrogate).__name__, "note": "the user's surrogate"}
