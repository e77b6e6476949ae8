"""The substitute attack's training (Papernot et al. 2017): exact query counts, reservoir sampling,
the budget, the periodic step, agreement rising over rounds, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from feint.errors import InputError
from feint.oracles import ModuleLabelOracle, as_oracle
from feint.training.substitute import SubstituteConfig, planned_queries, train_substitute

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


class SpyOracle(ModuleLabelOracle):
    """Records every input row the oracle is asked about."""

    def __init__(self, model: nn.Module, **kwargs: object) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self.asked: list[Tensor] = []

    def labels(self, x: Tensor) -> Tensor:
        self.asked.append(x.detach().clone())
        return super().labels(x)


def _tiny_target() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def _seeds(n: int = 12) -> Tensor:
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(2))


FAST = {"arch": "softmax", "epochs": 1, "batch_size": 8}


def test_augmentation_doubles_the_set_and_queries_only_new_points():
    oracle = SpyOracle(_tiny_target(), input_shape=(1, 4, 4))
    config = SubstituteConfig(rounds=4, **FAST)
    state = train_substitute(oracle, _seeds(), config=config, num_classes=3, progress=False)
    assert [r.set_size for r in state.records] == [12, 24, 48, 96]
    assert [r.new_points for r in state.records] == [12, 12, 24, 48] == planned_queries(12, config)
    assert [r.queries for r in state.records] == [12, 24, 48, 96]
    assert oracle.queries == 96 == state.queries
    assert [len(a) for a in oracle.asked] == [12, 12, 24, 48]  # one request per round, new rows only
    rows = torch.cat(oracle.asked).flatten(1)
    assert torch.equal(rows, state.x.flatten(1))  # every point of S was asked exactly once, in order
    assert torch.equal(state.labels, _tiny_target()(state.x).argmax(1))


def test_reservoir_sampling_caps_queries():
    oracle = SpyOracle(_tiny_target())
    config = SubstituteConfig(rounds=6, sigma=2, kappa=5, **FAST)
    state = train_substitute(oracle, _seeds(), config=config, num_classes=3, progress=False)
    # |S0| * 2^sigma + kappa * (rounds - 1 - sigma): Papernot et al. 2016's count
    assert oracle.queries == 12 * 2**2 + 5 * (6 - 1 - 2) == 63
    assert [r.new_points for r in state.records] == [12, 12, 24, 5, 5, 5] == planned_queries(12, config)
    # the kappa points augmented at each reservoir step come from those added by the step before
    first_reservoir = state.x[48:53]
    parents = state.x[24:48]
    diff = (first_reservoir[:, None] - parents[None]).flatten(2).abs().amax(2)
    assert bool((diff <= config.lam + 1e-6).any(1).all())


def test_budget_is_exact_and_says_where_it_cut():
    oracle = SpyOracle(_tiny_target())
    config = SubstituteConfig(rounds=6, max_queries=12 * 3 + 5, **FAST)
    state = train_substitute(oracle, _seeds(), config=config, num_classes=3, progress=False)
    assert oracle.queries == state.queries == 41
    assert [r.set_size for r in state.records] == [12, 24, 41]
    assert any("allowed 17 of 24" in n for n in state.notes)
    assert any("budget was spent" in n for n in state.notes)


def test_oracle_budget_counts_too():
    oracle = as_oracle(_tiny_target(), access="labels", max_queries=30)
    state = train_substitute(oracle, _seeds(), config=SubstituteConfig(rounds=5, **FAST), num_classes=3, progress=False)
    assert oracle.queries == state.queries == 30


def test_periodic_step_changes_sign_every_tau_rounds():
    config = SubstituteConfig(lam=0.2, tau=2)
    assert [config.step(r) for r in range(6)] == [0.2, 0.2, -0.2, -0.2, 0.2, 0.2]
    assert SubstituteConfig(lam=0.2, tau=None).step(5) == 0.2


def test_agreement_rises_over_rounds(lenet_digits, digits_test):
    x, y = digits_test.x, digits_test.y
    oracle = as_oracle(lenet_digits, access="labels")
    reference = lenet_digits(x[150:]).argmax(1)
    config = SubstituteConfig(arch="mlp", rounds=4, epochs=10)
    state = train_substitute(
        oracle, x[:150], config=config, num_classes=10, check=(x[150:], reference, y[150:]), progress=False
    )
    agreement = [r.agreement for r in state.records]
    assert agreement[-1] > agreement[0] + 0.05, agreement
    assert agreement[-1] > 0.85, agreement


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"lam": 0.0}, "lambda"),
        ({"lam": -0.1}, "lambda"),
        ({"rounds": 0}, "rounds"),
        ({"tau": 0}, "tau"),
        ({"sigma": -1}, "sigma"),
        ({"arch": "nope"}, "unknown substitute architecture"),
        ({"max_queries": 0}, "max_queries"),
    ],
)
def test_bad_settings_are_one_clear_error(settings, match):
    with pytest.raises(InputError, match=match):
        SubstituteConfig(**settings)


def test_bad_inputs_are_one_clear_error():
    oracle = as_oracle(_tiny_target(), access="labels", input_shape=(1, 4, 4), num_classes=3)
    config = SubstituteConfig(**FAST)
    with pytest.raises(InputError, match="smaller than"):
        train_substitute(oracle, _seeds(), config=SubstituteConfig(max_queries=5, **FAST), num_classes=3)
    with pytest.raises(InputError, match="shape"):
        train_substitute(oracle, torch.rand(4, 1, 5, 5), config=config, num_classes=3)
    with pytest.raises(InputError, match="3 classes but the substitute would have 10"):
        train_substitute(oracle, _seeds(), config=config, num_classes=10)
    with pytest.raises(InputError, match="as_oracle"):
        train_substitute(_tiny_target(), _seeds(), config=config, num_classes=3)  # type: ignore[arg-type]
    unknown = as_oracle(_tiny_target(), access="labels")  # learns its classes only when asked
    with pytest.raises(InputError, match="answered class 2 but the substitute has 2 classes"):
        train_substitute(unknown, _seeds(), config=config, num_classes=2)
