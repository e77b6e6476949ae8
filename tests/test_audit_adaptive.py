"""The audit adapts: BPDA through a quantizing front-end, the query-only path for a model that leaves
autograd, EOT and seeded redraws for a noisy model, pass counts, and one clear error per bad input."""

from __future__ import annotations

import copy

import pytest
import torch
from adaptive_models import JpegInForward, Noisy, NumpyNoisy, misled, quantized
from torch import nn

import feint
from feint.attacks.eot import ExpectationOverDraws
from feint.attacks.registry import run_attack
from feint.capabilities.audit.randomness import redraw_figures, redraw_verdicts
from feint.capabilities.audit.result import worst_case_accuracy
from feint.capabilities.audit.schema import REPORT_SCHEMA
from feint.errors import InputError
from feint.report.schema import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.fixture(scope="module")
def data(digits_test):  # type: ignore[no-untyped-def]
    return digits_test.x[:40], digits_test.y[:40], digits_test.info


def test_quantized_model_plain_audit_over_reports_and_bpda_does_not(lenet_digits, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, y, info = data
    model = quantized(lenet_digits)
    plain = feint.audit(model, x, y, eps=0.2, progress=False, adaptive=False, data_info=info)
    adaptive = feint.audit(model, x, y, eps=0.2, progress=False, data_info=info, out=tmp_path)
    # Measured on digits: about 45% plain, about 0% through BPDA; 20 points leave room for any CPU's rounding.
    assert worst_case_accuracy(adaptive)[0] <= worst_case_accuracy(plain)[0] - 0.20
    r = adaptive.data
    assert validate(r, REPORT_SCHEMA) == []
    gradient = r["adaptive"]["gradient"]
    assert gradient["bypassed"] == [{"module": "0", "why": "zero", "how": "identity (straight-through)"}]
    assert gradient["dead_inputs"] > 0 and gradient["dead_after_bypass"] == 0
    assert r["adaptive"]["checks"][0]["name"] == "gradients are non-zero and finite"
    assert any(rung["attack"] == "apgd-ce" and "BPDA through '0'" in rung["through"] for rung in r["adaptive"]["rungs"])
    # The BPDA model cost fewer passes than the plain audit's fruitless escalation.
    assert r["passes"]["total"]["backward"] < plain["passes"]["total"]["backward"]
    html = (tmp_path / "report.html").read_text()
    assert "Adaptive attacks" in html and "identity (straight-through)" in html and "backward rows" in html
    assert "bypassed '0'" in adaptive.summary() and "passes:" in adaptive.summary()


def test_jpeg_in_forward_takes_the_query_only_path(lenet_digits, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, y, info = data
    x, y = x[:16], y[:16]  # every query is a Pillow round trip per input: 16 inputs keep the ladder short
    report = feint.audit(JpegInForward(lenet_digits), x, y, eps=0.1, progress=False, data_info=info, out=tmp_path)
    r = report.data
    assert validate(r, REPORT_SCHEMA) == []
    assert r["access"]["level"] == "scores" and r["access"]["white_box_attacks"] is False
    assert "white-box attacks could not run" in r["access"]["note"]
    assert r["adaptive"]["gradient"]["connected"] is False and r["adaptive"]["checks"][0]["status"] == "fail"
    # Square, then the query-only ladder (a transfer rung from a fitted surrogate, longer searches):
    # none of them takes a gradient of the model
    assert "square" in r["attacks"] and r["passes"]["total"]["backward"] == 0
    assert set(r["attacks"]) <= {"square", "transfer"} | {a for a in r["attacks"] if a.startswith("square x")}
    assert r["queries"]["spent"] > 0
    assert "White-box attacks could not run" in (tmp_path / "report.html").read_text()


def test_eot_attack_beats_the_plain_one_on_a_noisy_model(lenet_digits, digits_test) -> None:  # type: ignore[no-untyped-def]
    x, y = digits_test.x[:100], digits_test.y[:100]
    model = Noisy(lenet_digits, sigma=0.3)
    torch.manual_seed(0)
    plain = run_attack("apgd-ce", model, x, y, eps=0.1, steps=20)
    torch.manual_seed(0)
    eot = run_attack("apgd-ce", ExpectationOverDraws(model, 8), x, y, eps=0.1, steps=20)
    seeds = list(range(8))
    plain_acc = redraw_figures(redraw_verdicts(model, plain.x_adv, y, seeds))["mean"]
    eot_acc = redraw_figures(redraw_verdicts(model, eot.x_adv, y, seeds))["mean"]
    # Measured: about 63% after the plain attack, 49% after EOT; 7 points of margin.
    assert eot_acc <= plain_acc - 0.07
    assert eot.passes[0] > 8 * eot.queries * 0.9  # each of the 8 draws is a counted row


def test_noisy_audit_uses_eot_and_redraws_reproducibly(lenet_digits, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, y, info = data
    x, y = x[:10], y[:10]  # three audits, each with its final EOT-PGD on every input: 10 inputs keep it short
    model = Noisy(lenet_digits, sigma=0.3)
    run = {"eps": 0.1, "progress": False, "data_info": info, "preset": "quick", "seed": 3}
    a = feint.audit(model, x, y, **run, out=tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "correct in every draw" in html and "EOT draws per gradient" in html
    b = feint.audit(model, x, y, **run)
    randomized = a["adaptive"]["randomized"]
    assert validate(a.data, REPORT_SCHEMA) == []
    assert randomized["eot_samples"] >= 2 and randomized["redraws"] >= 8 and "EOT draws" in randomized["reason"]
    assert randomized == b["adaptive"]["randomized"]  # the same seed: the same redraw figures
    assert randomized["deepening"]["backward_rows"] > 0
    check = next(c for c in a["checks"] if c["name"] == "outputs are deterministic")
    assert check["status"] == "pass" and "EOT" in check["detail"]  # handled, so it does not escalate
    assert worst_case_accuracy(a) == randomized["accuracy_mean"]
    assert randomized["accuracy_strict"][0] <= randomized["accuracy_min"][0] <= randomized["accuracy_mean"][0]
    assert len(randomized["per_redraw"][0]) == randomized["redraws"]
    forced = feint.audit(model, x, y, **run, eot_samples=3, redraws=5)
    chosen = forced["adaptive"]["randomized"]
    assert chosen["eot_samples"] == 3 and chosen["redraws"] == 5 and "set by the user" in chosen["reason"]
    assert "mean over 5 redraws" in forced.summary()


def test_audit_pass_counts_match_an_outside_count(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    from test_pass_counts import RowCounter

    x, y, info = data
    counted = RowCounter(copy.deepcopy(lenet_digits))  # its hooks stay on the copy, not the shared fixture
    report = feint.audit(counted, x, y, eps=0.1, preset="quick", progress=False, data_info=info)
    passes = report["passes"]
    assert passes["total"] == {"forward": counted.forward_rows, "backward": counted.backward_rows}
    attacks = sum(a["total"]["forward"] for a in passes["per_attack"].values())
    assert attacks + passes["other"]["forward"] == counted.forward_rows and passes["other"]["forward"] > 0
    assert passes["per_input"]["forward"] == pytest.approx(passes["total"]["forward"] / x.shape[0])


def test_bad_adaptive_input_gets_one_clear_error(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    x, y, _ = data
    model = quantized(lenet_digits)
    with pytest.raises(InputError, match="no submodule named 'front'"):
        feint.audit(model, x, y, eps=0.1, progress=False, approximations={"front": lambda t: t})
    with pytest.raises(InputError, match="changes the shape"):
        feint.audit(model, x, y, eps=0.1, progress=False, approximations={"0": lambda t: t.flatten(1)})
    with pytest.raises(InputError, match="cannot be seeded"):
        feint.audit(NumpyNoisy(lenet_digits), x, y, eps=0.1, progress=False)
    for option in ({"eot_samples": 0}, {"redraws": -1}):
        with pytest.raises(InputError, match="must be an integer >= 1"):
            feint.audit(model, x, y, eps=0.1, progress=False, **option)


def test_user_approximation_is_used_for_the_backward_pass(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    x, y, info = data
    model = quantized(lenet_digits)
    calls = []

    def smooth(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape[0])
        return t  # the straight-through approximation, written by the user

    r = feint.audit(model, x, y, eps=0.2, preset="quick", progress=False, data_info=info, approximations={"0": smooth})
    bypassed = r["adaptive"]["gradient"]["bypassed"]
    assert bypassed == [{"module": "0", "why": "zero", "how": "the user's differentiable approximation"}]
    assert calls and worst_case_accuracy(r)[0] < 0.2


def test_plain_model_is_left_alone(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    x, y, info = data
    r = feint.audit(lenet_digits, x, y, eps=0.1, preset="quick", progress=False, data_info=info).data
    assert r["adaptive"]["enabled"] and r["adaptive"]["checks"] == [] and r["adaptive"]["rungs"] == []
    assert isinstance(lenet_digits, nn.Module)


@pytest.mark.parametrize("option", [["--eot-samples", "0"], ["--redraws", "-2"]])
def test_cli_refuses_non_positive_counts(option: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from feint.cli import main

    args = ["audit", "--model", "missing-run", "--data", "digits", "--out", str(tmp_path / "a"), *option]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "must be an integer >= 1" in result.output


def test_bpda_audit_searches_the_true_forward(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    """Where the attacks went through BPDA, the score-based search runs on the model's own forward on
    the inputs still robust (the bypass trigger), and the adaptive section says so."""
    x, y, info = data
    r = feint.audit(quantized(lenet_digits), x[:20], y[:20], eps=0.05, progress=False, data_info=info).data
    assert validate(r, REPORT_SCHEMA) == []
    if r["worst_case"]["accuracy"][0] == 0:  # nothing left robust: nothing to search
        pytest.skip("every input was broken through BPDA")
    assert any("bypass" in reason["triggers"] for reason in r["escalation"]["reasons"])
    search = [rung for rung in r["adaptive"]["rungs"] if rung["attack"].startswith("square-large")]
    assert search and all("own forward" in rung["through"] and rung["backward_rows"] == 0 for rung in search)
    assert any("score-based searches" in note for note in r["adaptive"]["notes"])


def test_bypass_ladder_shape() -> None:
    """The search comes first: AutoAttack's Square budget with its large windows and the stall rule, on
    the bypass trigger; then a second seed of it at the smallest eps where it beat BPDA; then the
    preset's own ladder, fresh."""
    from feint.capabilities.audit.presets import AUTOATTACK_SQUARE, BYPASS, SEARCH_WINS, get_preset

    standard = get_preset("standard")
    ladder = standard.through_bypass().escalation
    search, second, own = ladder[0], ladder[1], ladder[2:]
    assert own == standard.escalation and own[0].fresh and BYPASS not in own[0].opens_on
    assert search.opens_on == (BYPASS,) and search.fresh and search.name == "square" and search.gauge == "late"
    assert search.params["n_queries"] == AUTOATTACK_SQUARE and 0 < search.params["stall_factor"] < 1
    assert second.opens_on == (SEARCH_WINS,) and second.fresh and second.smallest_eps and second.key != search.key
    assert second.name == "square" and 0 < second.params["stall_factor"] <= search.params["stall_factor"]
    assert get_preset("thorough").through_bypass() == get_preset("thorough")  # no ladder: nothing to append


@pytest.mark.parametrize(("search", "through", "wins"), [(5, 2, True), (2, 2, False), (0, 0, False)])
def test_search_trigger_fires_where_the_search_beats_bpda(search: int, through: int, wins: bool) -> None:
    """After the first search on a bypassed model's own forward, the ``search`` trigger fires at every
    eps with inputs left where, at some eps, it broke more than the gradient attacks through BPDA."""
    from types import SimpleNamespace

    from feint.capabilities.audit.escalate import RECORD, search_wins
    from feint.capabilities.audit.presets import SEARCH_WINS, get_preset
    from feint.capabilities.audit.state import AuditState

    preset = get_preset("standard").through_bypass()
    plans = get_preset("standard").attacks
    setup = SimpleNamespace(eps=(0.05, 0.1), plans=plans, clean_correct=torch.ones(10, dtype=torch.bool))
    state = AuditState.fresh("fp", 2, torch.zeros(10, 3))
    state.records[RECORD] = {"decided": {}, "queries": 0}
    state.records["apgd-ce@1"] = {"broke": through}
    state.records[f"{preset.escalation[0].key}@1"] = {"broke": search}
    fired: dict[int, set[str]] = {}
    search_wins(setup, state, preset.escalation[0], fired, limit=1)  # type: ignore[arg-type]
    assert (fired == {0: {SEARCH_WINS}, 1: {SEARCH_WINS}}) == wins
    decided = state.records[RECORD]["decided"]
    assert bool(decided) == wins
    if wins:
        assert all("beat the gradient attacks through BPDA" in d["reasons"][-1] for d in decided.values())


def test_noisy_standard_audit_runs_no_ladder_and_pushes_every_input(lenet_digits, data) -> None:  # type: ignore[no-untyped-def]
    """A randomized model gets no escalation ladder: the final EOT-PGD runs on every input (clean-wrong
    ones too: a random model's clean verdict is one draw), on two losses, and the report says so."""
    from feint.capabilities.audit.redraws import DEEPEN_LOSSES, DEEPEN_STEPS

    x, y, info = data
    model = Noisy(lenet_digits, sigma=0.3)
    r = feint.audit(model, x[:12], y[:12], eps=0.1, progress=False, data_info=info, eot_samples=2, seed=1).data
    assert r["escalation"]["rungs"] == [] and any("no escalation ladder" in n for n in r["adaptive"]["notes"])
    deep = r["adaptive"]["randomized"]["deepening"]
    assert deep["backward_rows"] == 12 * len(DEEPEN_LOSSES) * DEEPEN_STEPS * deep["draws"]


def test_a_search_that_beats_bpda_replaces_the_gradient_ladder_and_resumes(lenet_digits, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Where BPDA's gradient points the wrong way, the first search on the true forward breaks more than the
    attacks through BPDA (a short APGD here, so that only its random start can break anything: a margin no
    CPU's rounding crosses): the search trigger fires, the preset's ladder does not run, the search's
    second seed runs at the smallest eps only, and a resumed audit gives the same report."""
    from feint.capabilities.audit.presets import AttackPlan, Preset

    x, y, info = data
    ladder = (AttackPlan("pgd", "white-box", {"steps": 20}, label="pgd x20"),)
    preset = Preset("short", (AttackPlan("apgd-ce", "white-box", {"steps": 5, "restarts": 1}),), escalation=ladder)
    run = {"eps": [0.1, 0.2], "progress": False, "data_info": info, "seed": 0, "out": tmp_path, "preset": preset}
    first = feint.audit(misled(lenet_digits), x, y, **run).data
    assert validate(first, REPORT_SCHEMA) == []
    reasons = first["escalation"]["reasons"]
    assert any("search" in r["triggers"] for r in reasons)
    assert any("beat the gradient attacks through BPDA" in why for r in reasons for why in r["reasons"])
    rungs = [r["attack"] for r in first["escalation"]["rungs"]]
    assert rungs[0] == "square-large x5000" and set(rungs) <= {"square-large x5000", "square-large x5000 seed 2"}
    # the search's second seed runs at one eps only: the smallest where the search trigger fired
    second = [rung for rung in first["escalation"]["rungs"] if rung["attack"].endswith("seed 2")]
    searched = [d["eps"] for d in reasons if "search" in d["triggers"]]
    assert bool(second) == bool(searched) and all(rung["eps"] == [min(searched)] for rung in second)
    broke = {r["attack"]: r["broke"] for r in first["adaptive"]["rungs"]}
    assert sum(broke["square-large x5000"]) > sum(broke["apgd-ce"])
    again = feint.audit(misled(lenet_digits), x, y, **run).data
    assert again["escalation"] == first["escalation"] and again["worst_case"] == first["worst_case"]
