"""Audit presets: which attacks run, in which order, with which budget.

An audit runs *sequential* attacks (``standalone=False``) in order, each only on the inputs that
are still robust at that eps (AutoAttack's rule, Croce & Hein 2020, "Reliable evaluation of
adversarial robustness with an ensemble of diverse parameter-free attacks"); *standalone*
attacks (FGSM, the noise baseline) run on every input, because the checks of Carlini et al. 2019
("On Evaluating Adversarial Robustness") and Goodfellow's table compare them against the rest.
A ``minimum-norm`` attack runs once, unbounded, and answers every eps.

- ``quick``: FGSM + PGD.
- ``standard``: FMN, APGD-CE, APGD-T (targeted DLR, the two highest runner-up classes), Square,
  + FGSM. DLR, Square and FMN are invariant to a rescaling of the logits, so a saturated softmax
  cannot hide non-robustness.
- ``thorough``: the same with AutoAttack's budgets (APGD 100 steps, 3 restarts, 9 target
  classes, Square 1,000 queries) and FMN 200 steps.

``standard`` adapts (:mod:`feint.capabilities.audit.escalate`): its evaluation has not converged where a
gradient-masking check warns, where its targeted attack was still gaining when it stopped — its
last target class (the *gain gauge*, ``apgd-t #2``) broke at least ``gain_threshold`` of the
inputs — or where its untargeted attack was: APGD-CE (the *late gauge*) broke at least that many
in the second half of its iterations. There the preset's ``escalation`` ladder runs on the inputs
still robust: APGD-T on the remaining target classes, APGD-CE with the thorough budget (100 steps,
3 restarts), every target class with 4x the iterations, the black-box search with its full budget,
restarts — each next rung only where the one before was still gaining, except that where the late
gauge fired the two thorough gradient rungs run regardless (and APGD-CE's where a check warned).

A query-only model (an ONNX file without conversion, a scikit-learn model, an HTTP endpoint)
gets the preset's black-box part (:meth:`Preset.for_access`): Square with the preset's budget
when it answers scores, HopSkipJump (Chen et al. 2020) when it answers only labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from feint.validation import check_choice

KINDS = ("white-box", "black-box", "minimum-norm")
# What can make the audit escalate (feint.capabilities.audit.escalate): a masking check that warned, a gain
# gauge that broke enough inputs, a late gauge that broke enough inputs in its budget's second half;
# and, opening only the rungs that name them, BPDA: the gradient attacks went through an approximation;
# and a poor approximation: a score-based search on the model's own forward broke more inputs than the
# gradient attacks through BPDA had (decided during the ladder, after the first search rung).
TRIGGERS = ("check", "gain", "late", "bypass", "search")
BYPASS = "bypass"
SEARCH_WINS = "search"
# The triggers that open a ladder of the preset's own (its first rung).
LADDER_TRIGGERS = ("check", "gain", "late")
PRESETS = ("quick", "standard", "thorough")
NOISE = "noise"


@dataclass(frozen=True)
class AttackPlan:
    """One attack of a preset: registry ``name``, its ``kind``, extra keyword ``params``."""

    name: str
    kind: str = "white-box"
    params: Mapping[str, Any] = field(default_factory=dict)
    standalone: bool = False
    min_classes: int = 2
    label: str = ""
    gauge: str = ""
    opens_on: tuple[str, ...] = ()
    fresh: bool = False
    smallest_eps: bool = False

    def __post_init__(self) -> None:
        """``gauge`` ("gain" or "late", see :data:`TRIGGERS`) makes an attack a convergence gauge;
        ``opens_on`` (triggers) lets an escalation rung start the ladder where one of them fired;
        ``fresh`` starts a ladder of its own: the rung runs only where a trigger it opens on fired,
        not where the rung before it was still gaining; ``smallest_eps`` runs the rung only at the
        smallest of the eps it would run at (what it breaks there is carried to every larger eps)."""
        check_choice(self.kind, KINDS, "attack kind")
        if self.gauge:
            check_choice(self.gauge, ("gain", "late"), "gauge")
        for trigger in self.opens_on:
            check_choice(trigger, TRIGGERS, "escalation trigger")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def key(self) -> str:
        """The attack's name in the audit's state and report: its ``label``, else the registry name."""
        return self.label or self.name

    @property
    def minimum_norm(self) -> bool:
        return self.kind == "minimum-norm"

    @property
    def iterative_white_box(self) -> bool:
        """A white-box attack that is not the single-step reference."""
        return self.kind in ("white-box", "minimum-norm") and not self.standalone


@dataclass(frozen=True)
class Preset:
    """The attacks in the order they run; ``unbounded`` checks reachability when no min-norm attack runs."""

    name: str
    attacks: tuple[AttackPlan, ...]
    unbounded: AttackPlan | None = None
    unbounded_samples: int = 64
    escalation: tuple[AttackPlan, ...] = ()
    gain_threshold: float = 0.0

    def for_task(self, norm: str, num_classes: int) -> Preset:
        """Drop the attacks that do not support ``norm`` (their registry entry says which they do)
        or need more classes than the model has (targeted DLR needs 4)."""
        from feint.attacks.registry import get_attack

        def fits(plans: tuple[AttackPlan, ...]) -> tuple[AttackPlan, ...]:
            return tuple(a for a in plans if norm in get_attack(a.name).norms and num_classes >= a.min_classes)

        return replace(self, attacks=fits(self.attacks), escalation=fits(self.escalation))

    def for_access(self, access: str) -> Preset:
        """The attacks a model at ``access`` ("white-box", "scores" or "labels") allows."""
        if access == "white-box":
            return self
        b = _BLACK_BOX_BUDGETS.get(self.name, _BLACK_BOX_BUDGETS["standard"])
        if access == "scores":
            plan = AttackPlan("square", "black-box", {"n_queries": b["square"]}, gauge="late")
        else:
            plan = AttackPlan("hopskipjump", "black-box", {"max_queries": b["hsj"]}, gauge="late")
        ladder = () if self.name == "quick" else query_ladder(access, plan)
        return Preset(self.name, (plan,), None, self.unbounded_samples, ladder, _STANDARD_GAIN)

    def for_randomized(self) -> Preset:
        """The preset for a randomized model attacked through EOT (:mod:`feint.capabilities.audit.adaptive`):
        no escalation ladder. Its gauges would count inputs that fooled one EOT average, a verdict a
        redraw can reverse, and every rung costs its EOT draws per step; instead the final EOT-PGD of
        :mod:`feint.capabilities.audit.redraws` (80 steps on two expected losses from random starts, without
        early stopping: Athalye, Carlini & Wagner 2018) runs on every input. On a
        fast-AT Fashion-MNIST CNN under Gaussian noise (100 inputs) the ladder spent 42% of the
        audit's rows and broke 0 and 3 EOT averages at eps 0.05 and 0.1."""
        return replace(self, escalation=())

    def through_bypass(self) -> Preset:
        """The preset for a model whose gradient attacks go through BPDA (an approximation of its
        true gradient; Athalye et al. 2018). Where it has an escalation ladder, a score-based search
        that uses only the model's own forward, and so cannot over-report, runs first, opened by the
        ``bypass`` trigger: Square with AutoAttack's own budget (5,000 queries per input) and large first
        windows, stopped on each input where it has stalled (:data:`_STALL`). Where it broke more inputs
        than the gradient attacks through BPDA had, the ``search`` trigger fires: the approximation is
        poor for this model (a JPEG round trip: BPDA's PGD leaves 71% robust at eps 0.1 on a fast-AT
        Fashion-MNIST CNN where Square leaves 32%), and the rest of the ladder does not run there. Then
        the preset's own ladder, through BPDA, opened by its own triggers
        (:func:`feint.capabilities.audit.escalate.escalate`). The search starts at AutoAttack's budget,
        not the query-only path's 60: the gradient attacks through BPDA already broke what a short
        search finds, and matching what AutoAttack's Square finds takes a search of its length (of the
        inputs it breaks behind a JPEG round trip, about 5 in 100 fall after its 2,000th query): the
        stall rule, not a shorter budget, is what keeps its cost down. Where the search trigger fired,
        the search is the audit's main attack, and one run of it is not enough: Square's verdict varies
        from seed to seed (two 5,000-query runs on the same 100 inputs broke 12 and 9 at eps 0.05). So a
        second seed runs, with a stricter stall rule (:data:`_SECOND_STALL`), on the inputs still robust
        at the smallest eps where it fired: the cheapest eps to search (most inputs stall early there)
        and the one that pays most (what it breaks is carried to every larger eps)."""
        if not self.escalation:
            return self
        search = AttackPlan(
            "square",
            "black-box",
            {"n_queries": AUTOATTACK_SQUARE, **_LARGE_SQUARES, "stall_factor": _STALL},
            label=f"square-large x{AUTOATTACK_SQUARE}",
            gauge="late",
            opens_on=(BYPASS,),
            fresh=True,
        )
        second = replace(
            search,
            params={**search.params, "stall_factor": _SECOND_STALL},
            label=f"{search.label} seed 2",
            opens_on=(SEARCH_WINS,),
            fresh=True,
            smallest_eps=True,
        )
        return replace(self, escalation=(search, second, *self.escalation))


_FGSM = AttackPlan("fgsm", "white-box", standalone=True)


# The standard budget spends ~130 gradient-equivalents per input still robust at an eps (APGD-CE
# 50 + APGD-T 25 on each of the first two target classes + Square 60 forward passes) and 40 FMN
# steps per clean-correct input, under a fifth of PGD-100 x 10 restarts (benchmarks/audit_speed.py
# measures it). Its second target class is the gauge: spending APGD-T's steps on two classes instead
# of one costs nothing more and shows whether further classes are still breaking inputs.
_STANDARD = (
    AttackPlan("fmn", "minimum-norm", {"steps": 40}),
    AttackPlan("apgd-ce", "white-box", {"steps": 50, "restarts": 1}, gauge="late"),
    AttackPlan("apgd-t", "white-box", {"steps": 25, "n_target_classes": 1}, min_classes=4),
    AttackPlan(
        "apgd-t",
        "white-box",
        {"steps": 25, "n_target_classes": 1, "first_target": 2},
        min_classes=4,
        label="apgd-t #2",
        gauge="gain",
    ),
    AttackPlan("square", "black-box", {"n_queries": 60}),
    _FGSM,
)
# AutoAttack's budgets (Croce & Hein 2020) and FMN 200 steps.
_THOROUGH = (
    AttackPlan("fmn", "minimum-norm", {"steps": 200}),
    AttackPlan("apgd-ce", "white-box", {"steps": 100, "restarts": 3}),
    AttackPlan("apgd-t", "white-box", {"steps": 100, "n_target_classes": 9}, min_classes=4),
    AttackPlan("square", "black-box", {"n_queries": 1000}),
    _FGSM,
)
# Where the standard budget has not converged it escalates towards the thorough one, rung by rung,
# each only where the rung before was still gaining: the remaining target classes at the same
# budget per class; the thorough APGD-CE (it also opens where the untargeted attack was still
# gaining late or a check warned); then every class with 4x the iterations (it also opens where the
# untargeted attack was still gaining late: iterations, not target classes, were short there), then
# the black-box search with its full query budget, then restarts.
_ESCALATION = (
    AttackPlan(
        "apgd-t",
        "white-box",
        {"steps": 25, "n_target_classes": 7, "first_target": 3},
        min_classes=4,
        label="apgd-t #3-9",
        opens_on=LADDER_TRIGGERS,
        fresh=True,
    ),
    AttackPlan("apgd-ce", "white-box", {"steps": 100, "restarts": 3}, label="apgd-ce x3", opens_on=("check", "late")),
    AttackPlan(
        "apgd-t",
        "white-box",
        {"steps": 100, "n_target_classes": 9},
        min_classes=4,
        label="apgd-t x9",
        opens_on=("late",),
    ),
    AttackPlan("square", "black-box", {"n_queries": 1000}, label="square x1000"),
    AttackPlan(
        "apgd-t", "white-box", {"steps": 100, "n_target_classes": 9, "restarts": 2}, min_classes=4, label="apgd-t x9 x2"
    ),
)
_STANDARD_GAIN = 0.0015
# AutoAttack's Square (Croce & Hein 2020) starts from windows of 80% of the image, not the 5% of
# Andriushchenko et al.'s ImageNet setting: a front-end that smooths small changes away (a JPEG round
# trip's 8x8 blocks) ignores small windows. On the fast-AT Fashion-MNIST CNN behind JPEG, Square-1000
# at eps 0.1 leaves 47.5% robust with it, 60% with 0.05 (40 inputs).
_LARGE_SQUARES = {"p_init": 0.8}
AUTOATTACK_SQUARE = 5000  # the queries of AutoAttack's Square (its standard version)
# The search on a bypassed model's own forward stops on an input where its margin loss has not fallen to
# 0.8 ** k of its start by the k-th checkpoint (250, 500, 1,000, 2,000, 4,000 queries of 5,000;
# feint.attacks.stall). On the fast-AT Fashion-MNIST CNN behind JPEG (eps 0.05 and 0.1) it spends 0.37x
# the full budget's queries on 400 inputs and misses none of the inputs the full budget breaks (0.75
# missed 5); chosen on 100 others (benchmarks/search_budget.py).
_STALL = 0.8
# The second seed's stall factor (5,000 queries, smallest eps). Fast-AT CNN behind JPEG, eps 0.05 / 0.1,
# inputs 0-499 (chosen there), robust % and rows per input over AutoAttack's Square-5000 (73.2 / 26.6):
# no second seed 74.2 / 24.4, 0.444x; 0.8: 72.8, 0.541x; 0.7: 73.0, 0.499x; 0.65: 73.6, 0.490x; 0.7 with
# 2,500 queries: 73.6, 0.472x. Held out, inputs 500-999 (AutoAttack 71.4 / 25.8): 0.7: 69.4 / 23.8, 0.494x.
_SECOND_STALL = 0.7
# The black-box part a query-only model gets (the quick preset has none of its own: it takes the standard's).
_BLACK_BOX_BUDGETS = {
    "quick": {"square": 60, "hsj": 500},
    "standard": {"square": 60, "hsj": 500},
    "thorough": {"square": 1000, "hsj": 2000},
}


def get_preset(name: str) -> Preset:
    """``quick``, ``standard`` or ``thorough``."""
    check_choice(name, PRESETS, "preset")
    if name == "quick":
        pgd = AttackPlan("pgd", "white-box", {"steps": 20, "restarts": 1})
        return Preset("quick", (pgd, _FGSM), unbounded=AttackPlan("pgd", "white-box", {"steps": 50}))
    if name == "standard":
        return Preset("standard", _STANDARD, escalation=_ESCALATION, gain_threshold=_STANDARD_GAIN)
    return Preset("thorough", _THOROUGH)


# A query-only model's ladder (Preset.for_access): a transfer rung from a surrogate of the model (its
# first rung, so it opens wherever anything fired, and the "white-box attacks ran" check always warns
# for such a model), then the search with 4x, 16x and 64x its budget (up to SEARCH_CAP queries per
# input), each where the search before it was still fooling inputs in the second half of its queries
# (its late gauge; or, for the first, where the transfer rung still broke inputs the search had
# missed). On a digits CNN, Square's robust accuracy at eps 0.1 falls from 91% at 60 queries to 69%
# at 250, 61% at 1,000 and 60.5% at 4,000 (white-box: 59.5%).
SEARCH_CAP = 16_000
_SEARCH_BUDGET = {"square": "n_queries", "hopskipjump": "max_queries"}


def query_ladder(access: str, search: AttackPlan) -> tuple[AttackPlan, ...]:
    """The escalation ladder of a model at ``access`` ("scores" or "labels") whose search is ``search``."""
    key = _SEARCH_BUDGET[search.name]
    budget = int(search.params[key])
    name = "square" if access == "scores" else "hsj"
    more = [budget * 4**k for k in (1, 2, 3) if budget * 4**k <= SEARCH_CAP]
    searches = tuple(
        AttackPlan(
            search.name,
            "black-box",
            {key: q},
            label=f"{name} x{q}",
            gauge="late",
            opens_on=("late",) if i == 0 else (),
        )
        for i, q in enumerate(more)
    )
    transfer = AttackPlan(
        "surrogate", "black-box", {"steps": 50}, label="transfer", opens_on=LADDER_TRIGGERS, fresh=True
    )
    return (transfer, *searches)
