"""Shared fixtures: the digits data and small models trained on it once per session."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see feint/__init__.py

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from torch import nn

from feint.data import Dataset, load
from feint.training import train

# Property tests that do not fix max_examples take it from the profile: "ci" (the default:
# derandomised, so a run is repeatable) or "nightly" (`pytest --hypothesis-profile nightly`: ten
# times as many examples, freshly random each run).
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=220, deadline=None, derandomize=True, suppress_health_check=_SLOW_OK)
settings.register_profile("nightly", max_examples=2200, deadline=None, suppress_health_check=_SLOW_OK)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def digits_train() -> Dataset:
    return load("digits", "train")


@pytest.fixture(scope="session")
def digits_test() -> Dataset:
    return load("digits", "test")


@pytest.fixture(scope="session")
def lenet_digits(digits_train: Dataset) -> nn.Module:
    return train("lenet", digits_train, epochs=12, lr=3e-3, seed=0, progress=False).model


@pytest.fixture(scope="session")
def softmax_digits(digits_train: Dataset) -> nn.Module:
    return train("softmax", digits_train, epochs=30, lr=1e-2, seed=0, progress=False).model


@pytest.fixture(scope="session")
def distilled_digits(digits_train: Dataset) -> nn.Module:
    """A convnet defensively distilled at T = 100 (Papernot et al. 2016): teacher and student 8 epochs each."""
    options = {"epochs": 8, "lr": 1e-2, "batch_size": 32, "seed": 0}
    return train(
        "convnet", digits_train, recipe="distill", recipe_options={"temperature": 100.0}, progress=False, **options
    ).model


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """For tests of tiny models: a thread pool gains nothing there, and on shared cores its spinning
    costs several times the work."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread_per_module():
    """:func:`one_torch_thread` for a whole module, its module-scoped fixtures included
    (``pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")``)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def mutation_detector(lenet_digits: nn.Module, digits_train: Dataset):  # type: ignore[no-untyped-def]
    """NAI mutation testing on the digits LeNet: a small pool, fitted on 400 training inputs."""
    from feint.detectors import MutationDetector

    with torch_threads(1):
        return MutationDetector(lenet_digits, rate=0.05, n_mutants=60).fit(digits_train.x[:400], digits_train.y[:400])


@pytest.fixture(scope="session")
def kde_detector(lenet_digits: nn.Module, digits_train: Dataset):  # type: ignore[no-untyped-def]
    """Kernel density + Bayesian uncertainty on the digits LeNet (dropout inserted before its dense layers)."""
    from feint.detectors import DensityUncertaintyDetector

    with torch_threads(1):
        return DensityUncertaintyDetector(lenet_digits).fit(digits_train.x, digits_train.y)


@pytest.fixture(scope="session")
def mlp_file(digits_train: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn MLP on the flattened digits, saved as mlp.skops (and mlp.pkl): a query-only model."""
    import pickle
    import warnings

    import skops.io as sio
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0)
        est.fit(digits_train.x.flatten(1).numpy(), digits_train.y.numpy())
    folder = tmp_path_factory.mktemp("sk")
    sio.dump(est, folder / "mlp.skops")
    (folder / "mlp.pkl").write_bytes(pickle.dumps(est))
    return folder / "mlp.skops"


@pytest.fixture(scope="session")
def noisy_softmax_digits(digits_train: Dataset) -> nn.Module:
    """A softmax regression trained with Gaussian noise at sigma 0.25 (the base of a smoothed classifier)."""
    options = {"sigma": 0.25}
    return train(
        "softmax", digits_train, recipe="gaussian-noise", recipe_options=options, epochs=4, progress=False
    ).model


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules run in the order of how many slow end-to-end tests they hold, most first, each module's
    tests kept together and in order (module fixtures are set up once). Longest first: the two workers
    then even out on the short tests at the end, instead of one of them starting a 90-second test
    when the other is done."""
    slow = Counter(item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.nodeid.split("::")[0]])
