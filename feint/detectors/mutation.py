"""Adversarial input detection by model mutation testing (Wang et al. 2019, ICSE).

Wang, Dong, Sun, Wang & Zhang, "Adversarial Sample Detection for Deep Neural Network through
Model Mutation Testing", ICSE 2019. Adversarial inputs sit close to a decision boundary, so small
random changes of the model (mutants) change their label far more often than a normal input's.
``fit`` generates a seeded pool of mutants with one operator (GF, WS, NS or NAI, see
:mod:`feint.detectors.operators`) at a mutation rate, keeps those with at least 90% of the
original's clean accuracy, and sets the threshold ``threshold_`` (Wang et al.'s ς_h) from the label
change rates (LCR) of the clean inputs the model classifies correctly, their mean plus a one-sided
``confidence`` bound under a normal approximation: ``bound="input"`` (default) bounds one clean
input's LCR (mean + z sd); ``bound="mean"`` bounds their mean (mean + z sd / sqrt(n)), the rule of
Wang et al.'s artifact, whose lower threshold flags more inputs, clean ones included.
``score`` is the LCR over the whole pool; ``predict`` / ``decide`` run Wald's SPRT
(:mod:`feint.detectors.sprt`) drawing mutants one at a time until it decides, with an indifference
region ``threshold_ +- sigma_`` (``sigma``, or ``relax`` times the threshold: the artifact's 0.1).
Shapes: x (N, C, H, W) in ``bounds``, y (N,); results (N,).
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.result import predict_logits
from feint.detectors.base import Detector, model_fingerprint
from feint.detectors.mutants import generate_pool, label_changes, mutant_labels
from feint.detectors.operators import OPERATORS, mutable_layers
from feint.detectors.pool import MutantPool
from feint.detectors.sprt import SPRT, SPRTResult
from feint.errors import InputError
from feint.validation import check_choice, check_positive_int

BOUNDS = ("input", "mean")
MIN_CLEAN = 30  # correctly classified clean inputs needed to estimate the threshold


@dataclass(frozen=True)
class MutationSettings:
    """``rate``: fraction of neurons (WS, NS, NAI) or weights (GF) mutated; ``sigma``: half-width of
    the SPRT's indifference region in LCR units (None: half of min(threshold, 1 - threshold));
    ``relax``: sigma as a fraction of the threshold instead (Wang et al.'s artifact: 0.1); ``bound``:
    what the threshold bounds, ``"input"`` or ``"mean"`` (see the module docs);
    ``pairs``: (input, mutant) rows per forward pass; ``sprt_chunk``: mutants evaluated per SPRT
    round; ``filter_inputs``: the first inputs of ``fit`` that measure each candidate's accuracy."""

    operator: str = "nai"
    rate: float = 0.05
    n_mutants: int = 200
    accuracy_ratio: float = 0.9
    layers: tuple[str, ...] | None = None
    alpha: float = 0.05
    beta: float = 0.05
    sigma: float | None = None
    confidence: float = 0.99
    seed: int = 0
    pairs: int = 2048
    sprt_chunk: int = 8
    filter_inputs: int = 1000
    bounds: tuple[float, float] = (0.0, 1.0)
    bound: str = "input"
    relax: float | None = None

    def check(self) -> None:
        check_choice(self.operator, OPERATORS, "mutation operator")
        check_choice(self.bound, BOUNDS, "threshold bound")
        if self.relax is not None and (self.sigma is not None or not 0 < self.relax < 1):
            raise InputError(
                f"relax (sigma as a fraction of the threshold) must lie in (0, 1) and replaces sigma; got "
                f"relax={self.relax!r}, sigma={self.sigma!r}: pass one of the two (Wang et al.'s artifact: relax=0.1)"
            )
        if not isinstance(self.rate, (int, float)) or isinstance(self.rate, bool) or not 0 < self.rate <= 1:
            raise InputError(f"the mutation rate must lie in (0, 1], got {self.rate!r}; Wang et al. use 0.01 to 0.1")
        check_positive_int(self.n_mutants, "n_mutants")
        if not 0 < self.accuracy_ratio <= 1:
            raise InputError(f"accuracy_ratio must lie in (0, 1], got {self.accuracy_ratio!r} (Wang et al.: 0.9)")
        if not 0.5 < self.confidence < 1:
            raise InputError(f"confidence must lie in (0.5, 1), got {self.confidence!r}")
        check_positive_int(self.pairs, "pairs")
        check_positive_int(self.sprt_chunk, "sprt_chunk")
        check_positive_int(self.filter_inputs, "filter_inputs")
        SPRT(0.25, 0.75, self.alpha, self.beta)  # checks alpha and beta


class MutationDetector(Detector):
    """Mutation testing with label change rates and an SPRT (Wang et al. 2019); see the module docs.

    Learned: ``pool_`` (the kept mutants), ``threshold_`` (ς_h), ``sigma_``, ``clean_lcr_`` (mean
    and sd of the clean LCR), ``model_fingerprint_``.
    """

    kind = "mutation"

    def __init__(
        self,
        model: nn.Module,
        *,
        operator: str = "nai",
        rate: float = 0.05,
        n_mutants: int = 200,
        accuracy_ratio: float = 0.9,
        layers: tuple[str, ...] | None = None,
        alpha: float = 0.05,
        beta: float = 0.05,
        sigma: float | None = None,
        confidence: float = 0.99,
        seed: int = 0,
        pairs: int = 2048,
        sprt_chunk: int = 8,
        filter_inputs: int = 1000,
        bounds: tuple[float, float] = (0.0, 1.0),
        bound: str = "input",
        relax: float | None = None,
    ) -> None:
        self.model = model
        self.settings = MutationSettings(
            operator, rate, n_mutants, accuracy_ratio, layers, alpha, beta, sigma, confidence, seed, pairs,
            sprt_chunk, filter_inputs, bounds, bound, relax,
        )  # fmt: skip

    def fit(self, x: Tensor, y: Tensor, *, progress: bool = False) -> MutationDetector:
        """Generate the pool on ``(x, y)`` (clean inputs and labels) and set the threshold from their LCR."""
        s = self.settings
        self._check_fit_inputs(x, y)
        correct = predict_logits(self.model, x).argmax(1) == y
        if int(correct.sum()) < MIN_CLEAN:
            raise InputError(
                f"too few clean inputs to set a threshold: the model classifies {int(correct.sum())} of the "
                f"{x.shape[0]} given correctly and at least {MIN_CLEAN} are needed; pass more clean data"
            )
        layers = mutable_layers(self.model, s.layers)
        self.pool_ = generate_pool(
            self.model, x[: s.filter_inputs], y[: s.filter_inputs], operator=s.operator, rate=s.rate,
            size=s.n_mutants, layers=layers, accuracy_ratio=s.accuracy_ratio, seed=s.seed, pairs=s.pairs,
            progress=progress,
        )  # fmt: skip
        lcr = label_changes(self.model, self.pool_, x[correct], pairs=s.pairs, progress=progress).float().mean(1)
        self.clean_lcr_ = {"mean": float(lcr.mean()), "sd": float(lcr.std()), "n": int(correct.sum())}
        self._set_threshold()
        self.model_fingerprint_ = model_fingerprint(self.model)
        return self

    def with_rule(self, *, bound: str, relax: float | None = None, sigma: float | None = None) -> MutationDetector:
        """A copy sharing this pool and clean LCR, its threshold and sigma set by another rule."""
        self._check_fitted()
        other = copy.copy(self)
        other.settings = replace(self.settings, bound=bound, relax=relax, sigma=sigma)
        other.settings.check()
        other._set_threshold()
        return other

    def _set_threshold(self) -> None:
        s, clean = self.settings, self.clean_lcr_
        spread = clean["sd"] / math.sqrt(clean["n"]) if s.bound == "mean" else clean["sd"]
        floor = 1.0 / len(self.pool_)  # one mutant's worth: a threshold of 0 or 1 leaves the SPRT nothing to test
        z = statistics.NormalDist().inv_cdf(s.confidence)
        threshold = min(max(clean["mean"] + z * spread, floor), 1 - floor)
        room = min(threshold, 1 - threshold)
        sigma = s.sigma if s.sigma is not None else s.relax * threshold if s.relax is not None else room / 2
        if not 0 < sigma < room:
            raise InputError(
                f"sigma {sigma:.4g} does not fit around the threshold {threshold:.4g}: the indifference region "
                "threshold +- sigma must lie inside (0, 1); pass a smaller sigma (or None for half the room there)"
            )
        self.threshold_ = float(threshold)
        self.sigma_ = float(sigma)

    @property
    def sprt(self) -> SPRT:
        self._check_fitted()
        return SPRT.around(self.threshold_, self.sigma_, alpha=self.settings.alpha, beta=self.settings.beta)

    def label_changes(self, x: Tensor, *, progress: bool = False) -> Tensor:
        """(N, M) bool: which mutants of the pool change each input's label."""
        self._check_fitted()
        self._check_inputs(x)
        return label_changes(self.model, self.pool_, x, pairs=self.settings.pairs, progress=progress)

    def score(self, x: Tensor) -> Tensor:
        """(N,) label change rate over the whole pool (higher = more likely adversarial)."""
        return self.label_changes(x).float().mean(1)

    def decide(self, x: Tensor) -> SPRTResult:
        """The SPRT per input, drawing the pool's mutants in order, one at a time, until it decides.

        Mutants are evaluated ``sprt_chunk`` at a time for the inputs still undecided; a decision
        uses (and ``mutants_used`` counts) only the draws up to the one that decided it.
        """
        self._check_fitted()
        self._check_inputs(x)
        test, n = self.sprt, x.shape[0]
        original = predict_logits(self.model, x).argmax(1)
        verdict = torch.full((n,), -1, dtype=torch.long, device=x.device)
        changed = torch.zeros(n, dtype=torch.long, device=x.device)
        drawn = torch.zeros_like(changed)
        for start in range(0, len(self.pool_), self.settings.sprt_chunk):
            open_rows = (verdict < 0).nonzero().squeeze(1)
            if open_rows.numel() == 0:
                break
            ids = torch.arange(start, min(start + self.settings.sprt_chunk, len(self.pool_)))
            labels = mutant_labels(self.model, self.pool_, x[open_rows], ids, pairs=self.settings.pairs)
            v, c, d = test.step((labels != original[open_rows][None]).T, changed[open_rows], drawn[open_rows])
            verdict[open_rows], changed[open_rows], drawn[open_rows] = v, c, d
        lcr = changed.float() / drawn.clamp_min(1).float()
        decided = verdict >= 0
        adversarial = torch.where(decided, verdict == 1, lcr > self.threshold_)
        return SPRTResult(adversarial=adversarial, mutants_used=drawn, decided=decided, lcr=lcr)

    def predict(self, x: Tensor) -> Tensor:
        """(N,) bool: the SPRT's decision, adversarial or not."""
        return self.decide(x).adversarial

    def describe(self) -> dict[str, Any]:
        """What a report says about this detector: settings, pool and threshold."""
        self._check_fitted()
        return {
            "kind": self.kind,
            "settings": self.get_params(),
            "threshold": self.threshold_,
            "sigma": self.sigma_,
            "clean_lcr": self.clean_lcr_,
            "pool": {**self.pool_.info, "size": len(self.pool_), "mean_accuracy": float(self.pool_.accuracy.mean())},
        }

    def _state(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        return {"threshold": self.threshold_, "sigma": self.sigma_, "clean_lcr": self.clean_lcr_}, {}

    def _write_extra(self, folder: Path) -> None:
        self.pool_.save(folder)

    def _restore(self, learned: dict[str, Any], tensors: dict[str, Tensor], folder: Path) -> None:
        self.pool_ = MutantPool.load(folder)
        self.threshold_, self.sigma_ = float(learned["threshold"]), float(learned["sigma"])
        self.clean_lcr_ = dict(learned["clean_lcr"])
