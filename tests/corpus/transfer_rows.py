"""Corpus rows: the substitute attack (`feint blackbox`) and transferability (`feint transfer`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from corpus import Case, Ctx
from corpus import files as f
from feint.attacks.tree_path import tree_path_attack
from feint.errors import InputError, ModelError, OutputError
from feint.oracles import as_oracle
from feint.training.substitute import SubstituteConfig, train_substitute

BLACKBOX = ("blackbox", "--target", "{run}", "--data", "digits", "--rounds", "2", "--epochs", "1", "--quiet")
TRANSFER = ("transfer", "--source", "{run}", "--target", "{run}", "--data", "digits", "--quiet")
MATRIX = ("transfer", "--matrix", "--data", "digits", "--quiet")
NO_SUBSTITUTE = ("feint.training.substitute.start_substitute",)
NO_MATRIX = ("feint.capabilities.transfer.matrix.fit_techniques",)


def blackbox(id: str, phrase: str, *args: str, error: type[BaseException] = InputError, make: object = None) -> Case:
    return Case(
        id,
        make=make,
        cli=(*BLACKBOX, "--out", "bb", *args),
        error=error,
        phrase=phrase,
        forbid=NO_SUBSTITUTE,  # type: ignore[arg-type]
    )


def matrix(id: str, phrase: str, *args: str) -> Case:
    return Case(id, cli=(*MATRIX, "--out", "mx", *args), error=InputError, phrase=phrase, forbid=NO_MATRIX)


def _digits_shaped(name: str, side: int):  # type: ignore[no-untyped-def]
    def make(c: Ctx) -> None:
        f.npz(c.tmp / name, **f.images(60, side, classes=10, seed=4))

    return make


def _a_file(c: Ctx) -> None:
    (c.tmp / "taken").write_text("not a folder")


def _class_mismatch(c: Ctx) -> None:
    oracle = as_oracle(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), access="labels", num_classes=3)
    train_substitute(oracle, torch.rand(8, 1, 8, 8), config=SubstituteConfig(arch="softmax"), num_classes=10)


def _tree_over_budget(c: Ctx) -> object:
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.random((40, 1, 4, 4), dtype=np.float32))
    y = torch.as_tensor(rng.integers(0, 3, 40))
    tree = DecisionTreeClassifier(random_state=0).fit(x.flatten(1).numpy(), y.numpy())
    return x, tree_path_attack(tree, x, y, eps=0.01)


def _tree_says_what_it_did(c: Ctx, outcome: object) -> None:
    x, result = outcome  # type: ignore[misc]
    over = ~result.within_budget
    assert bool(over.any()) and bool((result.needed[over] > 0.01).all())
    assert torch.equal(result.x_adv[over], x[over])  # left unchanged, and reported as such


def _skops_fitted(name: str, features: int, classes: int):  # type: ignore[no-untyped-def]
    def make(c: Ctx) -> None:
        import skops.io as sio
        from sklearn.tree import DecisionTreeClassifier

        rng = np.random.default_rng(0)
        tree = DecisionTreeClassifier(random_state=0).fit(rng.random((60, features)), np.arange(60) % classes)
        sio.dump(tree, c.tmp / name)

    return make


def _pickled(c: Ctx) -> None:
    import pickle

    from sklearn.dummy import DummyClassifier

    (c.tmp / "m.pkl").write_bytes(pickle.dumps(DummyClassifier().fit(np.zeros((10, 64)), np.arange(10))))


def query_only_target(
    id: str,
    target: str,
    phrase: str,
    make: object,
    *,
    error: type[BaseException] = InputError,
    before_training: bool = False,
) -> Case:
    """A query-only ``--target`` that cannot be attacked: refused before any oracle query, or (when
    only an answer reveals it) before the substitute is trained."""
    cli = tuple(target if a == "{run}" else a for a in BLACKBOX)
    forbid = ("feint.training.substitute._train_round",) if before_training else NO_SUBSTITUTE
    return Case(id, make=make, cli=(*cli, "--out", "bb"), error=error, phrase=phrase, forbid=forbid)  # type: ignore[arg-type]


ROWS = [
    query_only_target(
        "blackbox-target-unreachable-url", "http://127.0.0.1:9/v2/models/m", "cannot connect", None, error=ModelError
    ),
    query_only_target(
        "blackbox-target-untrusted-pickle", "{tmp}/m.pkl", "is a pickle.*--trust-file", _pickled, error=ModelError
    ),
    query_only_target(
        "blackbox-target-other-classes",
        "{tmp}/t3.skops",
        "predicts 3 classes but digits has 10",
        _skops_fitted("t3.skops", 64, 3),
    ),
    query_only_target(
        "blackbox-target-other-features",
        "{tmp}/t.skops",
        "takes 100 features",
        _skops_fitted("t.skops", 100, 10),
        before_training=True,
    ),
    blackbox("blackbox-lambda-zero", "--lambda must be a finite number > 0, got 0", "--lambda", "0"),
    blackbox("blackbox-lambda-negative", "--lambda must be a finite number > 0, got -0.1", "--lambda", "-0.1"),
    blackbox("blackbox-budget-below-s0", r"smaller than \|S0\| = 150", "--max-queries", "100"),
    blackbox("blackbox-s0-empty", "--seed-size must be an integer >= 1, got 0", "--seed-size", "0"),
    blackbox("blackbox-s0-everything", "leaves none of the 360", "--seed-size", "360"),
    blackbox("blackbox-unknown-substitute", "unknown substitute architecture 'vgg99'", "--substitute", "vgg99"),
    blackbox("blackbox-unknown-attack", "unknown attack 'nope'", "--attack", "nope"),
    blackbox("blackbox-rounds-zero", "rounds must be an integer >= 1", "--rounds", "0"),
    blackbox("blackbox-tau-negative", "--tau must be an integer >= 0, got -2", "--tau", "-2"),
    blackbox("blackbox-s0-other-shape", "shape", "--data", "small.npz", make=_digits_shaped("small.npz", 10)),
    blackbox(
        "blackbox-s0-other-dataset", "was trained on digits", "--data", "other.npz", make=_digits_shaped("other.npz", 8)
    ),
    Case(
        "blackbox-out-is-a-file",
        make=_a_file,
        cli=(*BLACKBOX, "--out", "taken"),
        error=OutputError,
        phrase="must be a folder",
        forbid=NO_SUBSTITUTE,
    ),
    Case(
        "substitute-class-mismatch",
        call=_class_mismatch,
        error=InputError,
        phrase="3 classes but the substitute would have 10",
    ),
    Case("transfer-steps-text", cli=(*TRANSFER, "--steps", "1,x", "--out", "tr"), error=InputError, phrase="--steps"),
    Case(
        "transfer-steps-for-fgsm",
        cli=(*TRANSFER, "--attack", "fgsm", "--steps", "1,2", "--out", "tr"),
        error=InputError,
        phrase="takes no step count",
    ),
    Case(
        "transfer-no-target", cli=("transfer", "--source", "{run}", "--out", "tr"), error=InputError, phrase="--matrix"
    ),
    matrix("transfer-matrix-unknown-technique", "unknown technique 'rf'", "--techniques", "dnn,rf"),
    matrix("transfer-matrix-two-eps", "takes one eps", "--eps", "0.1,0.3"),
    matrix("transfer-matrix-with-source", "drop --source", "--source", "{run}"),
    Case("tree-path-over-budget", call=_tree_over_budget, check=_tree_says_what_it_did),
]
