"""Crafting against non-neural models: the decision-tree path attack, linear models as torch modules
and the linear SVM's hyperplane step (Papernot, McDaniel & Goodfellow 2016)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from feint.attacks.linear import hyperplane_step, linear_module
from feint.attacks.tree_path import tree_path_attack
from feint.capabilities.transfer.techniques import one_blas_thread
from feint.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.flatten(1).numpy()


@pytest.fixture(scope="module")
def tree(digits_train):
    return DecisionTreeClassifier(random_state=0).fit(_flat(digits_train.x), digits_train.y.numpy())


def _path_features(tree, row: np.ndarray) -> set[int]:
    nodes = tree.decision_path(row[None]).indices
    return {int(tree.tree_.feature[n]) for n in nodes if tree.tree_.children_left[n] != -1}


def test_path_attack_flips_the_tree_on_every_input_it_reports_as_a_success(tree, digits_test):
    x, y = digits_test.x, digits_test.y
    result = tree_path_attack(tree, x, y)
    before = torch.as_tensor(tree.predict(_flat(x)))
    after = torch.as_tensor(tree.predict(_flat(result.x_adv)))
    assert bool(result.success.all())  # without a budget every input reaches another class's leaf
    assert torch.equal(result.success, after != y)
    flipped = result.success & (before == y)
    assert bool((after[flipped] != before[flipped]).all())
    for i in range(0, 360, 37):  # only features tested on the new leaf's path change
        changed = set(np.flatnonzero(_flat(result.x_adv[i : i + 1])[0] != _flat(x[i : i + 1])[0]).tolist())
        assert changed <= _path_features(tree, _flat(result.x_adv[i : i + 1])[0])


def test_path_attack_keeps_to_the_budget_and_reports_what_it_could_not_do(tree, digits_test):
    x, y = digits_test.x, digits_test.y
    result = tree_path_attack(tree, x, y, eps=0.1)
    linf = (result.x_adv - x).flatten(1).abs().amax(1)
    assert bool((linf <= 0.1 + 1e-6).all())
    over = ~result.within_budget
    assert bool(over.any()) and bool((result.needed[over] > 0.1).all())
    assert bool((linf[over] == 0).all())  # left unchanged, and said so
    assert bool(result.success[result.within_budget].all())
    unbounded = tree_path_attack(tree, x, y)
    assert bool(torch.allclose(result.needed, unbounded.needed))


def test_path_attack_refuses_what_is_not_a_fitted_tree(digits_test):
    with pytest.raises(InputError, match="DecisionTreeClassifier"):
        tree_path_attack(LogisticRegression(), digits_test.x, digits_test.y)
    small = DecisionTreeClassifier().fit(np.random.default_rng(0).random((20, 4)), np.arange(20) % 2)
    with pytest.raises(InputError, match="4 features"):
        tree_path_attack(small, digits_test.x, digits_test.y)


@pytest.mark.parametrize("classes", [10, 2])
def test_linear_module_computes_the_estimators_decisions(digits_train, classes):
    keep = digits_train.y < classes
    x, y = digits_train.x[keep], digits_train.y[keep]
    for estimator in (LogisticRegression(max_iter=300), LinearSVC(C=0.1, max_iter=3000)):
        with one_blas_thread():
            fitted = estimator.fit(_flat(x), y.numpy())
        module = linear_module(fitted, (1, 8, 8))
        logits = module(x).detach().double()
        assert np.array_equal(logits.argmax(1).numpy(), fitted.predict(_flat(x)))
        if classes > 2:
            assert np.allclose(logits.numpy(), fitted.decision_function(_flat(x)), atol=1e-4)


def test_hyperplane_step_moves_away_from_the_class_hyperplane_by_eps(digits_train, digits_test):
    svm = LinearSVC(C=0.1, max_iter=3000).fit(_flat(digits_train.x), digits_train.y.numpy())
    x, y = digits_test.x, digits_test.y
    x_adv = hyperplane_step(svm, x, y, eps=0.2)
    assert float((x_adv - x).abs().max()) <= 0.2 + 1e-6
    scores = torch.as_tensor(svm.decision_function(_flat(x)))
    adv_scores = torch.as_tensor(svm.decision_function(_flat(x_adv)))
    rows = torch.arange(len(y))
    assert bool((adv_scores[rows, y] < scores[rows, y]).all())
    assert (svm.predict(_flat(x_adv)) != y.numpy()).mean() > (svm.predict(_flat(x)) != y.numpy()).mean() + 0.2
    with pytest.raises(InputError, match="not a fitted linear classifier"):
        hyperplane_step(DecisionTreeClassifier(), x, y, eps=0.1)
