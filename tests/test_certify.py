"""Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): what its certificates promise, on models whose
answer is known (a linear boundary, a coin flip) and on a tiny digits model attacked with EOT-PGD."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import feint
from feint.attacks.eot import ExpectationOverDraws
from feint.attacks.pgd import pgd
from feint.data import Dataset
from feint.defenses.smoothing import ABSTAIN, Smoothed, smooth
from feint.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Boundary(nn.Module):
    """Class 0 when the first pixel exceeds 0.5, else class 1: the distance to the boundary is known exactly."""

    def forward(self, x: Tensor) -> Tensor:
        z = x.flatten(1)[:, :1] - 0.5
        return torch.cat([z, -z], 1)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _inputs(first_pixel: list[float]) -> Tensor:
    x = torch.full((len(first_pixel), 1, 2, 2), 0.5)
    x[:, 0, 0, 0] = torch.tensor(first_pixel)
    return x


def test_the_certified_radius_grows_with_the_margin_and_shrinks_with_alpha() -> None:
    distance = torch.tensor([0.1, 0.3, 0.6])  # to the boundary; under sigma 0.5, p_A = 0.58, 0.73, 0.88
    model = smooth(Boundary(), 0.5, n0=50, n=2000)
    loose = model.certify(_inputs((0.5 + distance).tolist()), alpha=0.01, generator=_gen())
    strict = model.certify(_inputs((0.5 + distance).tolist()), alpha=1e-6, generator=_gen())  # the same draws
    assert (loose.prediction == 0).all() and (strict.prediction == 0).all()
    assert (loose.radius.diff() > 0.1).all()  # a wider margin, a larger radius
    assert (strict.radius < loose.radius).all()  # a smaller failure probability, a smaller radius
    assert (loose.radius <= distance).all()  # and never past the boundary
    assert (loose.radius > distance - 0.15).all()  # with 2000 draws, close to it


def test_it_abstains_when_the_classes_tie() -> None:
    model = smooth(Boundary(), 0.25, n0=50, n=1000)
    on_boundary = _inputs([0.5, 0.5, 0.5])  # either class with probability 1/2
    assert (model.predict(on_boundary, generator=_gen(1)) == ABSTAIN).all()
    answers = model.certify(on_boundary, generator=_gen(2))
    assert (answers.prediction == ABSTAIN).all() and torch.isnan(answers.radius).all()
    assert (answers.p_lower < 0.5).all()
    far = model.predict(_inputs([0.9, 0.1]), generator=_gen(3))  # 1.6 sigma away: no tie
    assert far.tolist() == [0, 1]


def test_the_forward_pass_is_one_noisy_draw_of_the_base_model() -> None:
    model = smooth(Boundary(), 0.25)
    x = _inputs([0.5] * 200)
    torch.manual_seed(0)
    first = model(x)
    torch.manual_seed(0)
    assert torch.equal(first, model(x))  # seeded: the audit's redraws repeat
    assert 0.3 < float((first.argmax(1) == 0).float().mean()) < 0.7  # a coin flip on the boundary


def test_certified_accuracy_never_exceeds_robust_accuracy_under_eot_pgd(
    noisy_softmax_digits: nn.Module, digits_test: Dataset
) -> None:
    """The certificate bounds robust accuracy from below, EOT-PGD on the smoothed classifier from above."""
    x, y = digits_test.x[:40], digits_test.y[:40]
    model = smooth(noisy_softmax_digits, 0.25, n0=50, n=400)
    answers = model.certify(x, generator=_gen())
    clean_vote = model.counts(x, 400, generator=_gen(1)).argmax(1) == y
    assert float(clean_vote.float().mean()) > 0.6  # the recipe taught the base model to answer under noise
    for radius in (0.25, 0.5):
        torch.manual_seed(0)
        attack = pgd(ExpectationOverDraws(model, 16), x, y, eps=radius, norm="2", steps=20, seed=0, early_stop=False)
        robust = clean_vote & (model.counts(attack.x_adv, 400, generator=_gen(2)).argmax(1) == y)
        certified = (answers.prediction == y) & (answers.radius >= radius)
        assert float(certified.float().mean()) <= float(robust.float().mean())
        assert float(robust.float().mean()) < float(clean_vote.float().mean())  # the attack did break some


def test_bad_settings_are_refused_with_one_clear_error() -> None:
    base = Boundary()
    for sigma in (0, -0.1, float("nan"), float("inf")):
        with pytest.raises(InputError, match=r"sigma .* must be a finite number > 0"):
            smooth(base, sigma)
    with pytest.raises(InputError, match=r"n0 \(200\) must not exceed n \(100\)"):
        smooth(base, 0.25, n0=200, n=100)
    for alpha in (0, 1, 1.5, -0.1):
        with pytest.raises(InputError, match=r"alpha .* strictly between 0 and 1"):
            smooth(base, 0.25, alpha=alpha)
    with pytest.raises(InputError, match="give sigma"):
        feint.certify(base, _inputs([0.9]), torch.tensor([0]))
    with pytest.raises(InputError, match=r"already smoothed at sigma 0\.25"):
        feint.certify(smooth(base, 0.25), _inputs([0.9]), torch.tensor([0]), sigma=0.5)
    with pytest.raises(InputError, match="sigma"):
        feint.train(
            "softmax", feint.load("digits", "train").head(8), recipe="gaussian-noise", recipe_options={"sigma": 0}
        )


def test_feint_smooth_is_the_smoothed_classifier() -> None:
    assert isinstance(feint.smooth(Boundary(), 0.5), Smoothed)


def test_smooth_adv_moves_inputs_where_the_soft_smoothed_classifier_errs(
    noisy_softmax_digits: nn.Module, digits_train: Dataset
) -> None:
    """Salman et al. 2019's inner attack: within the L2 ball, the soft smoothed classifier's loss rises."""
    from feint.defenses.smooth_adv import SoftSmoothed, smooth_adv_points
    from feint.threat import ThreatModel

    x, y = digits_train.x[:64], digits_train.y[:64]
    noise = 0.25 * torch.randn((4, *x.shape), generator=_gen())
    points = smooth_adv_points(noisy_softmax_digits, x, y, noise, ThreatModel("2", 0.5, (0.0, 1.0)), steps=2)
    assert float((points - x).flatten(1).norm(dim=1).max()) <= 0.5 + 1e-5
    soft = SoftSmoothed(noisy_softmax_digits, noise)
    with torch.no_grad():
        before, after = (torch.nn.functional.nll_loss(soft(p), y) for p in (x, points))
    assert float(after) > float(before) + 0.1
    run = feint.train("softmax", digits_train.head(128), recipe="smooth-adv", recipe_options={"eps": 0.5}, epochs=1)
    assert run.history and torch.isfinite(torch.tensor(run.history[-1]["loss"]))
    with pytest.raises(InputError, match="finite L2 eps > 0"):
        feint.train("softmax", digits_train.head(8), recipe="smooth-adv", recipe_options={"eps": 0})
