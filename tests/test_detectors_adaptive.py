"""Attacks that know about the detector lower its detection (Carlini & Wagner 2017)."""

from __future__ import annotations

import pytest
from torch import Tensor, nn

from feint.attacks import pgd
from feint.attacks.core import margin_loss
from feint.attacks.result import predict_logits
from feint.data import Dataset
from feint.detectors import DensityUncertaintyDetector, MutationDetector
from feint.detectors.adaptive import density_aware_pgd, high_confidence_cw
from feint.detectors.metrics import roc

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def correct(lenet_digits: nn.Module, digits_test: Dataset) -> tuple[Tensor, Tensor]:
    x, y = digits_test.x, digits_test.y
    ok = predict_logits(lenet_digits, x).argmax(1) == y
    return x[ok][:120], y[ok][:120]


def test_density_aware_pgd_evades_the_kde_detector(
    kde_detector: DensityUncertaintyDetector, lenet_digits: nn.Module, correct: tuple[Tensor, Tensor]
) -> None:
    x, y = correct
    plain = pgd(lenet_digits, x, y, eps=0.1, seed=0)
    adaptive = density_aware_pgd(kde_detector.differentiable(), x, y, eps=0.1, steps=40, seed=0)
    flagged_plain = kde_detector.predict(plain.x_adv[plain.success]).float().mean()
    flagged_adaptive = kde_detector.predict(adaptive.x_adv[adaptive.success]).float().mean()
    assert int(adaptive.success.sum()) >= 15  # it still fools the model
    assert float(adaptive.distance.max()) <= 0.1 + 1e-6  # inside the same threat model
    assert float(flagged_adaptive) < float(flagged_plain) - 0.15
    clean = kde_detector.score(x)
    before = roc(clean, kde_detector.score(plain.x_adv[plain.success]))["tpr_at_5_fpr"]
    after = roc(clean, kde_detector.score(adaptive.x_adv[adaptive.success]))["tpr_at_5_fpr"]
    assert after < before - 0.15


def test_high_confidence_cw_makes_mutants_agree(
    mutation_detector: MutationDetector, lenet_digits: nn.Module, correct: tuple[Tensor, Tensor]
) -> None:
    x, y = correct
    x, y = x[:60], y[:60]
    clean = mutation_detector.score(x)
    plain = high_confidence_cw(lenet_digits, x, y, kappa=0.0, binary_steps=5, steps=50)
    strong = high_confidence_cw(lenet_digits, x, y, kappa=10.0, binary_steps=5, steps=50)
    assert float(strong.success.float().mean()) > 0.8
    margin = margin_loss(strong.adv_logits, y)  # how far the best wrong class is above the true one
    assert float(margin[strong.success].min()) >= 10.0 - 1e-3
    auc_plain = roc(clean, mutation_detector.score(plain.x_adv[plain.success]))["roc_auc"]
    auc_strong = roc(clean, mutation_detector.score(strong.x_adv[strong.success]))["roc_auc"]
    assert auc_plain > 0.95
    assert auc_strong < auc_plain - 0.2


def test_an_attacks_own_eps_overrides_the_common_one(lenet_digits: nn.Module, digits_test: Dataset) -> None:
    """``params={"fgsm": {"eps": ...}}`` crafts FGSM at its own eps (as `feint detect eval --param fgsm.eps=0.3`)."""
    from feint.capabilities.detect.evaluation import EvalSettings, craft_all

    x, y = digits_test.x[:16], digits_test.y[:16]
    settings = EvalSettings(attacks=("fgsm", "pgd"), eps=0.05, params={"fgsm": {"eps": 0.2}})
    crafted = craft_all(lenet_digits, x, y, settings=settings)
    sizes = {name: float((r.x_adv - x).abs().amax()) for name, (r, _) in crafted.items()}
    assert sizes["fgsm"] == pytest.approx(0.2, abs=1e-5) and sizes["pgd"] <= 0.05 + 1e-5
