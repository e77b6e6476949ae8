"""Iterative gradient attacks: they fool, stay in the threat model, reach targets, are seeded,
and early stopping saves work without changing the verdicts."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from feint.attacks import ATTACKS, fgsm, ifgsm, least_likely_targets, mifgsm, next_class_targets, rand_fgsm, run_attack
from feint.attacks.apgd import dlr_loss, targeted_dlr_loss
from feint.errors import InputError
from feint.threat import ThreatModel, flat_norm

FAST = {
    "ifgsm": {},
    "bim": {"steps": 20, "step_size": 0.02},
    "ll_class": {"steps": 20, "step_size": 0.02},
    "pgd": {"steps": 10, "seed": 0},
    "mifgsm": {},
    "apgd": {"steps": 10, "seed": 0},
    "apgd-ce": {"steps": 10, "seed": 0},
    "apgd-t": {"steps": 5, "n_target_classes": 3, "seed": 0},
    "rand_fgsm": {"seed": 0},
}


@pytest.fixture(scope="module")
def batch(digits_test) -> tuple[Tensor, Tensor]:
    return digits_test.x[:128], digits_test.y[:128]


@pytest.mark.parametrize(
    ("name", "params"),
    [(n, FAST[n]) for n in ("ifgsm", "bim", "pgd", "mifgsm", "apgd", "apgd-t")]
    + [("apgd", {**FAST["apgd"], "loss": "dlr"}), ("pgd", {**FAST["pgd"], "norm": "2", "eps": 0.8})],
)
def test_iterative_attacks_fool_at_least_as_often_as_fgsm(lenet_digits, batch, name, params):
    x, y = batch
    params = {"eps": 0.1, **params}
    one_step = fgsm(lenet_digits, x, y, eps=params["eps"], norm=params.get("norm", "inf"))
    result = run_attack(name, lenet_digits, x, y, **params)
    clean_error = float((lenet_digits(x).argmax(1) != y).float().mean())
    assert result.success_rate >= one_step.success_rate
    assert result.success_rate > clean_error + 0.2
    assert torch.equal(result.success, result.adv_pred != y)


def test_rand_fgsm_is_fgsm_without_the_random_step_and_fools(lenet_digits, batch):
    x, y = batch
    plain = rand_fgsm(lenet_digits, x, y, eps=0.2, alpha=0.0, early_stop=False)
    assert torch.equal(plain.x_adv, fgsm(lenet_digits, x, y, eps=0.2).x_adv)
    noisy = rand_fgsm(lenet_digits, x, y, eps=0.2, seed=0)
    assert noisy.success_rate > 0.3
    assert not torch.equal(noisy.x_adv, plain.x_adv)


def test_mifgsm_without_momentum_is_iterative_fgsm(lenet_digits, batch):
    x, y = batch
    a = mifgsm(lenet_digits, x, y, eps=0.15, steps=6, decay=0.0)
    b = ifgsm(lenet_digits, x, y, eps=0.15, steps=6)
    assert torch.equal(a.x_adv, b.x_adv)
    assert not torch.equal(mifgsm(lenet_digits, x, y, eps=0.15, steps=6).x_adv, a.x_adv)


class Recorder(nn.Module):
    """Records every input the attack evaluates."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(x.detach().clone())
        return self.model(x)


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(sorted(FAST)),
    norm=st.sampled_from(["inf", "2"]),
    scale=st.floats(0.0, 1.0),
)
def test_every_evaluated_point_stays_in_the_ball_and_bounds(softmax_digits, batch, name, norm, scale):
    x, y = batch[0][:16], batch[1][:16]
    if norm not in ATTACKS[name].norms:
        norm = "inf"
    eps = scale * (0.4 if norm == "inf" else 3.0)
    params = {**FAST[name], "eps": eps, "early_stop": False}
    if norm == "2":
        params["norm"] = "2"
    model = Recorder(softmax_digits)
    result = run_attack(name, model, x, y, **params)
    tol = 1e-5 * max(eps, 1.0)
    for seen in model.seen:
        assert float(seen.min()) >= 0.0 and float(seen.max()) <= 1.0
        assert float(flat_norm(seen - x[: seen.shape[0]], norm).max()) <= eps + tol
    assert float(result.distance.max()) <= eps + tol


@pytest.mark.parametrize(
    ("name", "params"),
    [(n, FAST[n]) for n in ("ifgsm", "bim", "pgd", "mifgsm", "apgd")] + [("apgd", {**FAST["apgd"], "loss": "dlr"})],
)
def test_targeted_attacks_reach_their_targets(lenet_digits, batch, name, params):
    x, y = batch
    target = next_class_targets(y, 10)
    result = run_attack(name, lenet_digits, x, y, eps=0.3, targeted=True, target=target, **params)
    assert torch.equal(result.target, target)
    assert torch.equal(result.success, result.adv_pred == target)
    assert result.success_rate > 0.7


def test_ll_class_succeeds_only_by_reaching_the_least_likely_class(lenet_digits, batch):
    x, y = batch
    result = run_attack("ll_class", lenet_digits, x, y, eps=0.4, **FAST["ll_class"])
    assert torch.equal(result.target, least_likely_targets(lenet_digits, x, y=y))
    assert torch.equal(result.success, result.adv_pred == result.target)
    assert bool((result.target != y).all())
    assert result.success_rate > 0.6


def test_apgd_t_is_untargeted_but_runs_towards_runner_up_classes(lenet_digits, batch):
    x, y = batch
    result = run_attack("apgd-t", lenet_digits, x, y, eps=0.1, **FAST["apgd-t"])
    assert result.target is None
    assert torch.equal(result.success, result.adv_pred != y)
    no_stop = run_attack("apgd-t", lenet_digits, x, y, eps=0.1, **{**FAST["apgd-t"], "early_stop": False})
    assert no_stop.queries == x.shape[0] * (1 + 3 * FAST["apgd-t"]["steps"])


@pytest.mark.parametrize("name", ["pgd", "apgd", "apgd-t", "rand_fgsm"])
def test_results_are_deterministic_under_a_seed(softmax_digits, batch, name):
    x, y = batch[0][:64], batch[1][:64]
    params = {**FAST[name], "eps": 0.1}
    a = run_attack(name, softmax_digits, x, y, **params)
    b = run_attack(name, softmax_digits, x, y, **params)
    c = run_attack(name, softmax_digits, x, y, **{**params, "seed": 1})
    assert torch.equal(a.x_adv, b.x_adv) and a.queries == b.queries
    assert not torch.equal(a.x_adv, c.x_adv)


@pytest.mark.parametrize("name", sorted(FAST))
def test_attacks_hold_dropout_models_in_eval_mode_and_restore_it(batch, name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10)).train()
    x, y = batch[0][:32], batch[1][:32]
    a = run_attack(name, model, x, y, eps=0.2, **FAST[name])
    b = run_attack(name, model, x, y, eps=0.2, **FAST[name])
    assert torch.equal(a.x_adv, b.x_adv)
    assert model.training


@pytest.mark.parametrize("name", ["pgd", "apgd", "bim", "mifgsm"])
def test_early_stopping_saves_queries_and_keeps_the_verdicts(lenet_digits, batch, name):
    x, y = batch
    params = {**FAST[name], "eps": 0.15}
    stopped = run_attack(name, lenet_digits, x, y, **params)
    full = run_attack(name, lenet_digits, x, y, **params, early_stop=False)
    steps = params["steps"] if "steps" in params else ATTACKS[name].parameters()["steps"]
    assert full.queries == x.shape[0] * steps
    assert stopped.queries < full.queries
    assert abs(stopped.accuracy - full.accuracy) <= 0.03


def test_pgd_restarts_keep_each_samples_best(lenet_digits, batch):
    x, y = batch
    one = run_attack("pgd", lenet_digits, x, y, eps=0.15, steps=5, seed=3)
    three = run_attack("pgd", lenet_digits, x, y, eps=0.15, steps=5, seed=3, restarts=3)
    assert bool((three.success >= one.success).all())
    assert one.queries < three.queries < 3 * one.queries


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("pgd", {"eps": -0.1}),
        ("pgd", {"eps": 0.1, "steps": 0}),
        ("pgd", {"eps": 0.1, "norm": "3"}),
        ("pgd", {"eps": 0.1, "restarts": 0}),
        ("pgd", {"eps": 0.1, "targeted": True}),
        ("apgd", {"eps": 0.1, "loss": "hinge"}),
        ("apgd", {"eps": 0.1, "steps": 0}),
        ("bim", {"eps": 0.1, "step_size": -1.0}),
        ("ifgsm", {"eps": -1.0}),
        ("mifgsm", {"eps": 0.1, "decay": -1.0}),
        ("rand_fgsm", {"eps": 0.1, "alpha": 0.2}),
        ("ll_class", {"eps": 0.1, "targeted": True}),
        ("apgd-t", {"eps": 0.1, "n_target_classes": 0}),
    ],
)
def test_bad_parameters_raise_input_error(softmax_digits, batch, name, params):
    with pytest.raises(InputError):
        run_attack(name, softmax_digits, batch[0][:8], batch[1][:8], **params)


def test_dlr_needs_three_classes(batch):
    two_class = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    x = batch[0][:8]
    with pytest.raises(InputError, match="classes"):
        run_attack("apgd", two_class, x, torch.zeros(8, dtype=torch.long), eps=0.1, loss="dlr", steps=2)


@settings(max_examples=30, deadline=None)
@given(
    logits=st.lists(st.floats(-20, 20), min_size=5, max_size=5).filter(lambda v: len({round(a, 3) for a in v}) == 5),
    label=st.integers(0, 4),
    target=st.integers(0, 4),
    scale=st.floats(0.1, 10.0),
    shift=st.floats(-5.0, 5.0),
)
def test_dlr_losses_are_scale_free_and_signal_success(logits, label, target, scale, shift):
    z = torch.tensor([logits], dtype=torch.float64)
    y, t = torch.tensor([label]), torch.tensor([target])
    moved = z * scale + shift
    assert torch.allclose(dlr_loss(moved, y), dlr_loss(z, y), atol=1e-6)
    assert torch.allclose(targeted_dlr_loss(moved, y, t), targeted_dlr_loss(z, y, t), atol=1e-6)
    assert bool(dlr_loss(z, y) > 0) == (int(z.argmax()) != label)
    if target != label:
        assert bool(targeted_dlr_loss(z, y, t) > 0) == (logits[target] > logits[label])


def test_bim_default_schedule_follows_kurakin(lenet_digits, batch):
    x, y = batch[0][:32], batch[1][:32]
    eps = 0.1
    result = run_attack("bim", lenet_digits, x, y, eps=eps, early_stop=False)
    e = eps * 255
    assert result.queries == x.shape[0] * math.ceil(min(e + 4, 1.25 * e))


@settings(max_examples=30, deadline=None)
@given(
    eps=st.floats(0.0, 0.5),
    norm=st.sampled_from(["inf", "2"]),
    seed=st.integers(0, 10_000),
)
def test_projecting_onto_a_precomputed_ball_equals_projecting(eps, norm, seed):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(4, 1, 5, 5, generator=gen)
    moved = x0 + (torch.rand(4, 1, 5, 5, generator=gen) * 2 - 1) * 0.6
    threat = ThreatModel(norm, eps, (0.0, 1.0))
    ball = threat.ball(x0)
    assert torch.allclose(threat.project_ball(moved, ball), threat.project(moved, x0), atol=1e-6)
    rows = torch.tensor([3, 1])
    subset = {k: v[rows] for k, v in ball.items()}
    assert torch.allclose(threat.project_ball(moved[rows], subset), threat.project(moved[rows], x0[rows]), atol=1e-6)
