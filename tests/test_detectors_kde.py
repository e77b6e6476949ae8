"""Kernel density + Bayesian uncertainty (Feinman et al. 2017) on the digits LeNet and on a hand-written module."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity
from torch import Tensor, nn

from feint.attacks import fgsm, pgd
from feint.attacks.result import predict_logits
from feint.data import Dataset
from feint.detectors import DensityUncertaintyDetector, load_detector
from feint.detectors.crafting import noisy_like
from feint.detectors.kde import log_density
from feint.training import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class SmallNet(nn.Module):
    """Not a Sequential: its own forward, its own dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 48)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(48, 10)

    def forward(self, x: Tensor) -> Tensor:
        hidden = F.relu(self.fc(F.relu(self.conv(x)).flatten(1)))
        return self.head(self.drop(hidden))


@pytest.fixture(scope="module")
def correct(lenet_digits: nn.Module, digits_test: Dataset) -> tuple[Tensor, Tensor]:
    x, y = digits_test.x, digits_test.y
    ok = predict_logits(lenet_digits, x).argmax(1) == y
    return x[ok], y[ok]


def _auc(clean: Tensor, adversarial: Tensor) -> float:
    truth = [0] * len(clean) + [1] * len(adversarial)
    return float(roc_auc_score(truth, torch.cat([clean, adversarial]).numpy()))


def test_log_density_equals_scikit_learn() -> None:
    gen = torch.Generator().manual_seed(0)
    points, query = torch.randn(300, 5, generator=gen), torch.randn(40, 5, generator=gen)
    expected = KernelDensity(bandwidth=0.7).fit(points.double().numpy()).score_samples(query.double().numpy())
    got = log_density(query.double(), points.double(), 0.7)
    assert torch.allclose(got, torch.as_tensor(expected), atol=1e-8)


def test_separates_fgsm_and_pgd_from_clean(
    kde_detector: DensityUncertaintyDetector, lenet_digits: nn.Module, correct: tuple[Tensor, Tensor]
) -> None:
    x, y = correct
    clean = kde_detector.score(x)
    for attack in (fgsm, pgd):
        result = attack(lenet_digits, x, y, eps=0.1)
        assert int(result.success.sum()) > 30
        assert _auc(clean, kde_detector.score(result.x_adv[result.success])) > 0.9


def test_noisy_clean_inputs_are_not_flagged_more_than_clean(
    kde_detector: DensityUncertaintyDetector, lenet_digits: nn.Module, correct: tuple[Tensor, Tensor]
) -> None:
    """Noise as large (L2) as an FGSM perturbation, in random directions, does not look adversarial: over
    three noise draws the noisy inputs the model still gets right are flagged no more often than the
    clean ones, up to two standard errors of the difference of the two rates."""
    x, y = correct
    result = fgsm(lenet_digits, x, y, eps=0.1)
    noisy = torch.cat([noisy_like(x, result.x_adv - x, seed=s) for s in (1, 2, 3)])
    noisy = noisy[predict_logits(lenet_digits, noisy).argmax(1) == y.repeat(3)]
    clean_rate = float(kde_detector.predict(x).float().mean())
    noisy_rate = float(kde_detector.predict(noisy).float().mean())
    pooled = (clean_rate * len(x) + noisy_rate * len(noisy)) / (len(x) + len(noisy))
    standard_error = (pooled * (1 - pooled) * (1 / len(x) + 1 / len(noisy))) ** 0.5
    assert noisy_rate <= clean_rate + 2 * standard_error
    assert clean_rate <= 0.12


def test_the_score_is_differentiable_for_adaptive_attacks(
    kde_detector: DensityUncertaintyDetector, correct: tuple[Tensor, Tensor]
) -> None:
    x = correct[0][:8].clone().requires_grad_(True)
    _, _, logit = kde_detector.differentiable()(x, 4)
    (grad,) = torch.autograd.grad(logit.sum(), x)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0


def test_save_and_load_give_identical_scores(
    kde_detector: DensityUncertaintyDetector, lenet_digits: nn.Module, correct: tuple[Tensor, Tensor], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    kde_detector.save(tmp_path / "det")
    loaded = load_detector(tmp_path / "det", lenet_digits)
    x = correct[0][:100]
    assert isinstance(loaded, DensityUncertaintyDetector)
    assert torch.equal(loaded.score(x), kde_detector.score(x))
    assert torch.equal(loaded.predict(x), kde_detector.predict(x))


def test_any_module_with_its_own_dropout_and_an_autoencoder(digits_train: Dataset, digits_test: Dataset) -> None:
    model = train(SmallNet(), digits_train, epochs=8, lr=3e-3, seed=0, progress=False).model
    detector = DensityUncertaintyDetector(model, mc_samples=12, reduce="autoencoder", components=8, attacks=("fgsm",))
    detector.fit(digits_train.x, digits_train.y)
    assert detector.layer_ == "drop"  # called just before the last Linear; in eval mode it passes the ReLU features
    assert detector.describe()["dropout"] == "the model's own dropout ('drop')"
    x, y = digits_test.x, digits_test.y
    ok = predict_logits(model, x).argmax(1) == y
    result = fgsm(model, x[ok], y[ok], eps=0.1)
    assert _auc(detector.score(x[ok]), detector.score(result.x_adv[result.success])) > 0.85
    assert not model.training and not model.drop.training  # the model's modes are restored
