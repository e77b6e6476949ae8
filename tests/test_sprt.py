"""Wald's SPRT on synthetic Bernoulli streams: the configured error rates hold, clear cases stop early."""

from __future__ import annotations

import pytest
import torch

from feint.detectors import SPRT
from feint.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEST = SPRT.around(0.1, 0.05, alpha=0.05, beta=0.05)  # H0: p <= 0.05 (normal), H1: p >= 0.15 (adversarial)


def streams(p: float, n: int = 3000, length: int = 800, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, length, generator=gen) < p


def test_false_alarms_at_most_alpha_at_the_normal_boundary() -> None:
    verdict, _ = TEST.decide(streams(TEST.p0))
    assert bool((verdict >= 0).all()), "every stream of 800 draws decides"
    assert float((verdict == 1).float().mean()) <= TEST.alpha + 0.015


def test_misses_at_most_beta_at_the_adversarial_boundary() -> None:
    verdict, _ = TEST.decide(streams(TEST.p1, seed=1))
    assert bool((verdict >= 0).all())
    assert float((verdict == 0).float().mean()) <= TEST.beta + 0.015


def test_clear_cases_need_fewer_draws() -> None:
    _, near = TEST.decide(streams(TEST.p1, seed=2))
    _, clear = TEST.decide(streams(0.6, seed=3))
    _, normal_near = TEST.decide(streams(TEST.p0, seed=4))
    _, normal_clear = TEST.decide(streams(0.0, seed=5))
    assert float(clear.float().mean()) < 0.3 * float(near.float().mean())
    assert float(normal_clear.float().mean()) < 0.5 * float(normal_near.float().mean())


def test_chunked_steps_equal_one_pass() -> None:
    """Continuing the test chunk by chunk (what the detector does) decides exactly like one pass."""
    data = streams(0.12, n=500, length=300, seed=6)
    whole, used = TEST.decide(data)
    verdict = torch.full((500,), -1)
    changed = torch.zeros(500, dtype=torch.long)
    drawn = torch.zeros(500, dtype=torch.long)
    for start in range(0, 300, 7):
        rows = (verdict < 0).nonzero().squeeze(1)
        v, c, d = TEST.step(data[rows, start : start + 7], changed[rows], drawn[rows])
        verdict[rows], changed[rows], drawn[rows] = v, c, d
    assert torch.equal(verdict, whole)
    assert torch.equal(drawn[whole >= 0], used[whole >= 0])


def test_undecided_when_the_stream_ends_first() -> None:
    verdict, used = TEST.decide(streams(0.1, n=50, length=3))
    assert bool((verdict == -1).all()) and bool((used == 3).all())


@pytest.mark.parametrize(("p0", "p1", "alpha"), [(0.0, 0.2, 0.05), (0.3, 0.2, 0.05), (0.1, 0.2, 0.6)])
def test_bad_settings_are_refused(p0: float, p1: float, alpha: float) -> None:
    with pytest.raises(InputError):
        SPRT(p0, p1, alpha, 0.05)
