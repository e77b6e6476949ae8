"""Mutation testing (Wang et al. 2019): operators, the batched mutant evaluation, the pool, LCR and the SPRT."""

from __future__ import annotations

import copy

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from feint.attacks import pgd
from feint.attacks.result import predict_logits
from feint.data import Dataset
from feint.detectors import MutationDetector, load_detector
from feint.detectors.batched import _logits_loop, _logits_vmap, stacked_labels
from feint.detectors.mutants import _stack, base_weights
from feint.detectors.operators import OPERATORS, mutable_layers, mutate
from feint.detectors.pool import MutantPool
from feint.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mutant(model: nn.Module, operator: str, rate: float, seed: int = 0) -> dict[str, torch.Tensor]:
    return mutate(operator, base_weights(model), mutable_layers(model), rate, torch.Generator().manual_seed(seed))


def _neurons(model: nn.Module) -> int:
    return sum(layer.neurons for layer in mutable_layers(model))


def test_nai_negates_a_rate_of_the_neurons(lenet_digits: nn.Module) -> None:
    base = base_weights(lenet_digits)
    mutant = _mutant(lenet_digits, "nai", 0.1)
    negated = 0
    for layer in mutable_layers(lenet_digits):
        if layer.weight not in mutant:
            continue
        new, old = mutant[layer.weight].flatten(1), base[layer.weight].flatten(1)
        flipped = (new != old).any(1)
        assert torch.equal(new[flipped], -old[flipped]) and torch.equal(new[~flipped], old[~flipped])
        assert torch.equal(mutant[layer.bias][flipped], -base[layer.bias][flipped])
        negated += int(flipped.sum())
    assert negated == round(0.1 * _neurons(lenet_digits))


def test_ns_switches_neurons_inside_their_layer(lenet_digits: nn.Module) -> None:
    base = base_weights(lenet_digits)
    mutant = _mutant(lenet_digits, "ns", 0.1)
    for name, new in mutant.items():
        rows_new = sorted(map(tuple, new.reshape(new.shape[0], -1).tolist()))
        rows_old = sorted(map(tuple, base[name].reshape(new.shape[0], -1).tolist()))
        assert rows_new == rows_old  # the same neurons, in other places
        assert not torch.equal(new, base[name])


def test_ws_shuffles_the_weights_of_some_neurons(lenet_digits: nn.Module) -> None:
    base = base_weights(lenet_digits)
    mutant = _mutant(lenet_digits, "ws", 0.1)
    changed = 0
    for name, new in mutant.items():
        new_rows, old_rows = new.flatten(1), base[name].flatten(1)
        assert torch.equal(new_rows.sort(1).values, old_rows.sort(1).values)
        changed += int((new_rows != old_rows).any(1).sum())
    assert 0 < changed <= round(0.1 * _neurons(lenet_digits))


def test_gf_fuzzes_a_rate_of_the_weights(lenet_digits: nn.Module) -> None:
    base = base_weights(lenet_digits)
    mutant = _mutant(lenet_digits, "gf", 0.05)
    for layer in mutable_layers(lenet_digits):
        changed = (mutant[layer.weight] != base[layer.weight]).float().mean()
        assert abs(float(changed) - 0.05) < 0.02


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_seed_gives_the_same_mutant(lenet_digits: nn.Module, operator: str) -> None:
    a, b = _mutant(lenet_digits, operator, 0.05, seed=3), _mutant(lenet_digits, operator, 0.05, seed=3)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(p.requires_grad for p in lenet_digits.parameters())  # the original model is untouched


def test_batched_evaluation_equals_deep_copies(lenet_digits: nn.Module, digits_test: Dataset) -> None:
    """vmap over stacked weights answers exactly what a deep copy per mutant answers."""
    mutants = [_mutant(lenet_digits, "nai", 0.05, seed=s) for s in range(5)]
    stacked = _stack(base_weights(lenet_digits), mutants)
    x = digits_test.x[:64]
    labels = stacked_labels(lenet_digits, stacked, x, pairs=100)  # several input chunks
    for j, mutation in enumerate(mutants):
        copy_ = copy.deepcopy(lenet_digits)
        copy_.load_state_dict({**copy_.state_dict(), **mutation})
        assert torch.equal(labels[j], predict_logits(copy_, x).argmax(1))
    with torch.no_grad():
        assert torch.allclose(_logits_vmap(lenet_digits, stacked, x), _logits_loop(lenet_digits, stacked, x), atol=1e-5)


def test_pool_saves_and_loads_its_weights(lenet_digits: nn.Module, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = base_weights(lenet_digits)
    mutants = [_mutant(lenet_digits, op, 0.05, seed=s) for s, op in enumerate(OPERATORS)]
    pool = MutantPool.from_mutations(base, mutants, [0.9] * 4, {"operator": "mixed"})
    pool.save(tmp_path)
    loaded = MutantPool.load(tmp_path)
    ids = torch.arange(4)
    expected = _stack(base, mutants)
    for source in (pool, loaded):
        got = source.weights(base, ids)
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert (tmp_path / "mutants.json").is_file() and (tmp_path / "mutants.safetensors").is_file()


def test_kept_mutants_keep_ninety_percent_of_the_accuracy(mutation_detector: MutationDetector) -> None:
    pool = mutation_detector.pool_
    assert len(pool) == 60
    assert float(pool.accuracy.min()) >= 0.9 * pool.info["original_accuracy"]


@pytest.fixture(scope="module")
def clean_and_pgd(lenet_digits: nn.Module, digits_test: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The test inputs the LeNet gets right, and the PGD (eps 0.1) inputs crafted from them that fool it."""
    x, y = digits_test.x, digits_test.y
    correct = predict_logits(lenet_digits, x).argmax(1) == y
    result = pgd(lenet_digits, x[correct], y[correct], eps=0.1, seed=0)
    assert int(result.success.sum()) > 30
    return x[correct], result.x_adv[result.success]


def test_adversarial_inputs_change_label_far_more_often(
    mutation_detector: MutationDetector, clean_and_pgd: tuple[torch.Tensor, torch.Tensor]
) -> None:
    clean = mutation_detector.score(clean_and_pgd[0])
    adversarial = mutation_detector.score(clean_and_pgd[1])
    assert float(adversarial.mean()) > 5 * float(clean.mean())
    truth = [0] * len(clean) + [1] * len(adversarial)
    assert roc_auc_score(truth, torch.cat([clean, adversarial]).numpy()) > 0.95


def test_sprt_flags_adversarial_inputs_with_few_mutants(
    mutation_detector: MutationDetector, clean_and_pgd: tuple[torch.Tensor, torch.Tensor]
) -> None:
    clean = mutation_detector.decide(clean_and_pgd[0])
    adversarial = mutation_detector.decide(clean_and_pgd[1])
    assert float(clean.adversarial.float().mean()) < 0.1
    assert float(adversarial.adversarial.float().mean()) > 0.9
    assert float(adversarial.mutants_used.float().mean()) < float(clean.mutants_used.float().mean())
    assert int(clean.mutants_used.max()) <= len(mutation_detector.pool_)
    x = clean_and_pgd[0][:20]
    assert torch.equal(mutation_detector.predict(x), mutation_detector.decide(x).adversarial)


def test_save_and_load_give_identical_scores(
    mutation_detector: MutationDetector, lenet_digits: nn.Module, digits_test: Dataset, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    mutation_detector.save(tmp_path / "det")
    loaded = load_detector(tmp_path / "det", lenet_digits)
    assert isinstance(loaded, MutationDetector) and loaded.get_params() == mutation_detector.get_params()
    x = digits_test.x[:80]
    assert torch.equal(loaded.score(x), mutation_detector.score(x))
    a, b = loaded.decide(x), mutation_detector.decide(x)
    assert torch.equal(a.adversarial, b.adversarial) and torch.equal(a.mutants_used, b.mutants_used)
    assert loaded.threshold_ == mutation_detector.threshold_


def test_the_artifact_rule_bounds_the_mean_and_relaxes_by_a_fraction(
    mutation_detector: MutationDetector, clean_and_pgd: tuple[torch.Tensor, torch.Tensor]
) -> None:
    """Wang et al.'s artifact: threshold mean + z sd / sqrt(n), sigma 0.1 x threshold; a lower threshold flags more."""
    wang = mutation_detector.with_rule(bound="mean", relax=0.1)
    clean = mutation_detector.clean_lcr_
    z = 2.3263478740408408  # one-sided 99%
    expected = max(clean["mean"] + z * clean["sd"] / clean["n"] ** 0.5, 1 / len(mutation_detector.pool_))
    assert wang.threshold_ == pytest.approx(expected) and wang.sigma_ == pytest.approx(0.1 * wang.threshold_)
    assert wang.threshold_ < mutation_detector.threshold_ and wang.pool_ is mutation_detector.pool_
    x = clean_and_pgd[0]
    assert float(wang.decide(x).adversarial.float().mean()) >= float(
        mutation_detector.decide(x).adversarial.float().mean()
    )
    assert mutation_detector.settings.bound == "input"  # the original is untouched
    with pytest.raises(InputError, match="relax"):
        mutation_detector.with_rule(bound="mean", relax=0.1, sigma=0.01)
    with pytest.raises(InputError, match="threshold bound"):
        mutation_detector.with_rule(bound="median")
