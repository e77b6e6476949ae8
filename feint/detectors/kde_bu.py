"""The kernel density + Bayesian uncertainty detector (Feinman et al. 2017) as a scikit-learn-style estimator.

See :mod:`feint.detectors.density` for the two signals and how they are combined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from feint.attacks.result import predict_logits
from feint.detectors.base import Detector, model_fingerprint
from feint.detectors.crafting import craft, noisy_like
from feint.detectors.density import DensitySettings, Signals, seeded
from feint.detectors.features import DropoutPlan, hidden_features, last_hidden_layer, named_layer, plan_dropout
from feint.detectors.kde import fit_class_densities
from feint.detectors.reduction import build_reducer, fit_reducer
from feint.errors import InputError
from feint.progress import milestone


class DensityUncertaintyDetector(Detector):
    """Kernel density + Bayesian uncertainty (Feinman et al. 2017), combined by logistic regression.

    Settings: ``layer`` (features: a ``named_modules`` name; None: the last hidden layer),
    ``dropout`` (``"auto"``: the model's dropout, else inserted before its last two dense layers, see
    :func:`~feint.detectors.features.plan_dropout`; ``"model"``; or a layer name to insert dropout
    after), ``dropout_p`` (of inserted dropout), ``mc_samples``, ``reduce`` (``"none"``,
    ``"pca"``, ``"autoencoder"``) to ``components`` dimensions (``hidden``: autoencoder width),
    ``max_per_class`` KDE points, ``folds`` for the bandwidth search, ``attacks`` and ``eps`` that
    craft the regression's adversarial inputs, ``lr_fraction``, ``fpr`` (sets ``threshold_``).
    Learned: ``layer_``, ``dropout_``, ``reducer_``, ``points_``, ``bandwidths_``, ``scaler_``,
    ``coef_``, ``threshold_``, ``fit_summary_``, ``model_fingerprint_``.
    """

    kind = "kde-bu"

    def __init__(
        self,
        model: nn.Module,
        *,
        layer: str | None = None,
        dropout: str = "auto",
        dropout_p: float = 0.3,
        mc_samples: int = 50,
        reduce: str = "pca",
        components: int = 16,
        hidden: int = 64,
        max_per_class: int = 1000,
        folds: int = 3,
        attacks: tuple[str, ...] = ("fgsm", "pgd"),
        eps: float = 0.1,
        lr_fraction: float = 0.3,
        fpr: float = 0.05,
        seed: int = 0,
        batch_size: int = 256,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.model = model
        self.settings = DensitySettings(
            layer, dropout, dropout_p, mc_samples, reduce, components, hidden, max_per_class, folds,
            tuple(attacks), eps, lr_fraction, fpr, seed, batch_size, bounds,
        )  # fmt: skip

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, x: Tensor, y: Tensor, *, progress: bool = False) -> DensityUncertaintyDetector:
        """Densities on part of ``(x, y)``; the regression on the rest, with adversarial inputs crafted there."""
        s = self.settings
        k = self._check_fit_inputs(x, y)
        self.layer_ = s.layer if s.layer is not None else last_hidden_layer(self.model, x)
        named_layer(self.model, self.layer_)
        self.dropout_ = plan_dropout(self.model, x, dropout=s.dropout, p=s.dropout_p, feature_layer=self.layer_)
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(s.seed)).to(x.device)
        n_lr = round(s.lr_fraction * x.shape[0])
        kde_rows, lr_rows = order[n_lr:], order[:n_lr]
        milestone(progress, f"kde-bu: densities on {kde_rows.numel()} inputs ({s.reduce} reduction)")
        self._fit_densities(x[kde_rows], y[kde_rows], k)
        milestone(progress, f"kde-bu: logistic regression on {lr_rows.numel()} inputs, attacks {', '.join(s.attacks)}")
        self._fit_regression(x[lr_rows], y[lr_rows])
        self.model_fingerprint_ = model_fingerprint(self.model)
        return self

    def _fit_densities(self, x: Tensor, y: Tensor, k: int) -> None:
        s = self.settings
        features = hidden_features(self.model, self.layer_, x, batch_size=s.batch_size).cpu()
        self.reducer_ = fit_reducer(s.reduce, features, components=s.components, hidden=s.hidden, seed=s.seed)
        self.points_, self.bandwidths_ = fit_class_densities(
            self.reducer_(features), y.cpu(), k, max_per_class=s.max_per_class, folds=s.folds, seed=s.seed
        )
        self.scaler_ = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        self.coef_ = torch.zeros(3)

    def _fit_regression(self, x: Tensor, y: Tensor) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        s = self.settings
        correct = predict_logits(self.model, x).argmax(1) == y
        clean, labels = x[correct], y[correct]
        adversarial, noisy, per_attack = [], [], {}
        for i, name in enumerate(s.attacks):
            result = craft(name, self.model, clean, labels, eps=s.eps, seed=s.seed + i)
            fooled = result.success
            adversarial.append(result.x_adv[fooled])
            noisy.append(
                noisy_like(clean[fooled], result.x_adv[fooled] - clean[fooled], seed=s.seed + i, bounds=s.bounds)
            )
            per_attack[name] = int(fooled.sum())
        adv, noise = torch.cat(adversarial), torch.cat(noisy)
        if adv.shape[0] == 0 or clean.shape[0] < 2:
            raise InputError(
                f"the attacks {', '.join(s.attacks)} at eps {s.eps:g} fooled none of the {clean.shape[0]} correctly "
                "classified inputs of the regression part; raise eps or pass more data"
            )
        features = [self._raw(part) for part in (clean, noise, adv)]
        table = torch.cat(features).cpu().double().numpy()
        target = [0] * (clean.shape[0] + noise.shape[0]) + [1] * adv.shape[0]
        scaler = StandardScaler().fit(table)
        regression = LogisticRegression(class_weight="balanced").fit(scaler.transform(table), target)
        self.scaler_ = torch.tensor(np.stack([scaler.mean_, scaler.scale_]), dtype=torch.float32)
        self.coef_ = torch.tensor([*regression.coef_[0], regression.intercept_[0]], dtype=torch.float32)
        clean_scores = self._signals().combine(features[0][:, 0], features[0][:, 1]).sigmoid()
        self.threshold_ = float(torch.quantile(clean_scores.double(), 1 - s.fpr))
        self.fit_summary_ = {"clean": int(clean.shape[0]), "noisy": int(noise.shape[0]), "adversarial": per_attack}

    # -- scoring ----------------------------------------------------------------------------
    def _signals(self) -> Signals:
        """The pipeline on the model's device (moved once per call, not per batch)."""
        device = self._device
        return Signals(
            self.model, self.layer_, self.reducer_.to(device), [p.to(device) for p in self.points_], self.bandwidths_,
            self.dropout_, self.scaler_.to(device), self.coef_.to(device),
        )  # fmt: skip

    @property
    def _device(self) -> torch.device:
        return next(iter(self.model.parameters()), torch.zeros(0)).device

    def _raw(self, x: Tensor) -> Tensor:
        """(N, 2): log density at the predicted class and MC-dropout uncertainty, seeded, without gradients."""
        signals = self._signals()
        parts = []
        with torch.no_grad(), seeded(self.settings.seed, x.device):
            for i in range(0, x.shape[0], self.settings.batch_size):
                batch = x[i : i + self.settings.batch_size]
                density, _ = signals.density(batch)
                parts.append(torch.stack([density, signals.uncertainty(batch, self.settings.mc_samples)], 1))
        return torch.cat(parts)

    def signals(self, x: Tensor) -> dict[str, Tensor]:
        """Per input: ``log_density``, ``uncertainty`` and ``score``."""
        self._check_fitted()
        self._check_inputs(x)
        raw = self._raw(x)
        score = self._signals().combine(raw[:, 0], raw[:, 1]).sigmoid()
        return {"log_density": raw[:, 0], "uncertainty": raw[:, 1], "score": score}

    def score(self, x: Tensor) -> Tensor:
        """(N,) probability of "adversarial" from the logistic regression (higher = more likely adversarial)."""
        return self.signals(x)["score"]

    def differentiable(self) -> Signals:
        """The fitted pipeline as a torch module (for attacks that know about the detector)."""
        self._check_fitted()
        return self._signals()

    def describe(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "kind": self.kind,
            "settings": self.get_params(),
            "threshold": self.threshold_,
            "layer": self.layer_,
            "dropout": self.dropout_.describe(),
            "bandwidths": list(self.bandwidths_),
            "coefficients": {"log_density": float(self.coef_[0]), "uncertainty": float(self.coef_[1])},
            "fit": self.fit_summary_,
        }

    # -- saving -----------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        tensors = {f"points/{c}": p for c, p in enumerate(self.points_)}
        tensors |= {f"reducer/{k}": v for k, v in self.reducer_.state_dict().items()}
        tensors |= {"scaler": self.scaler_, "coef": self.coef_}
        learned = {
            "layer": self.layer_,
            "dropout": {"own": list(self.dropout_.own), "at": self.dropout_.at, "p": self.dropout_.p},
            "bandwidths": self.bandwidths_,
            "threshold": self.threshold_,
            "feature_dim": self._feature_dim(),
            "fit_summary": self.fit_summary_,
        }
        return learned, tensors

    def _feature_dim(self) -> int:
        if self.settings.reduce == "pca":
            return int(self.reducer_.weight.shape[1])  # type: ignore[union-attr,index]
        if self.settings.reduce == "autoencoder":
            return int(self.reducer_[0].weight.shape[1])  # type: ignore[index]
        return int(self.points_[0].shape[1])

    def _restore(self, learned: dict[str, Any], tensors: dict[str, Tensor], folder: Path) -> None:
        s = self.settings
        self.layer_ = str(learned["layer"])
        d = learned["dropout"]
        self.dropout_ = DropoutPlan(tuple(d["own"]), d["at"], float(d["p"]))
        self.reducer_ = build_reducer(s.reduce, int(learned["feature_dim"]), s.components, s.hidden)
        self.reducer_.load_state_dict({k[len("reducer/") :]: v for k, v in tensors.items() if k.startswith("reducer/")})
        self.reducer_.eval().requires_grad_(False)
        count = sum(1 for k in tensors if k.startswith("points/"))
        self.points_ = [tensors[f"points/{c}"] for c in range(count)]
        self.bandwidths_ = [float(b) for b in learned["bandwidths"]]
        self.scaler_, self.coef_ = tensors["scaler"], tensors["coef"]
        self.threshold_ = float(learned["threshold"])
        self.fit_summary_ = dict(learned["fit_summary"])
