"""scikit-learn models and pickles on disk, loaded without running code from the file.

- ``.skops``: skops' format rebuilds objects from the types its file declares instead of
  unpickling. skops itself trusts every scikit-learn estimator, including those that hold a
  callable (``FunctionTransformer(func=...)``, a ``metric=`` or ``kernel=`` function), so a file
  made only of ``sklearn.*`` names can still call a function of the author's choosing when the
  model predicts. feint therefore trusts only :data:`TRUSTED_SKOPS_TYPES`: classifiers and
  transformers that hold no callable, the internal types they keep after fitting, and the
  numpy/builtin containers skops needs. Every type the file names (as skops' own tree walk,
  ``skops.io.visualize``, and ``skops.io.get_untrusted_types`` see them) must be on that list
  before anything is built; anything else is refused with the list of untrusted types unless
  ``trust=True`` (the CLI's ``--trust-file``), for files you made.
- ``.pkl`` / ``.pickle`` / ``.joblib``: unpickling runs whatever code the file names, so such a
  file is refused unless ``trust=True``, for files you made.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from feint.errors import ModelError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

# Fitted classifiers (and the scalers a pipeline puts before them) whose state is numbers, arrays
# and strings, never a callable; the pipeline is trusted because every one of its steps must be.
_ESTIMATORS = (
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.dummy.DummyClassifier",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.decomposition._pca.PCA",
    "sklearn.pipeline.Pipeline",
)
# What those estimators keep after fitting: trees, optimizers, label encoders, losses, search trees.
_FITTED_STATE = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    *(f"sklearn.metrics._dist_metrics.{m}Distance64" for m in ("Euclidean", "Manhattan", "Chebyshev", "Minkowski")),
    *(
        f"sklearn._loss.link.{k}"
        for k in ("Interval", "IdentityLink", "LogitLink", "HalfLogitLink", "MultinomialLogit")
    ),
    *(f"sklearn._loss.loss.Half{k}Loss" for k in ("Binomial", "Multinomial")),
    *(f"sklearn._loss._loss.CyHalf{k}Loss" for k in ("Binomial", "Multinomial")),
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss._loss.CyExponentialLoss",
)
_CONTAINERS = (
    *(f"builtins.{t}" for t in ("dict", "list", "tuple", "set", "int", "float", "str", "bool", "bytes", "slice")),
    "collections.OrderedDict",
    "numpy.ndarray",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    *(f"numpy.{t}" for t in ("float16", "float32", "float64", "bool", "bool_", "str_")),
    *(f"numpy.{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)),
)
TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset((*_ESTIMATORS, *_FITTED_STATE, *_CONTAINERS))


def skops_types(raw: bytes) -> set[str]:
    """Every type a skops file names: skops' own tree walk plus the types skops does not trust by default."""
    import skops.io as sio

    seen: set[str] = set()

    def collect(nodes: Iterable[Any], *_: Any, **__: Any) -> None:
        seen.update(node.val for node in nodes if not node.val.startswith("json-type("))

    sio.visualize(raw, sink=collect)
    return seen | set(sio.get_untrusted_types(data=raw))


def load_skops(path: str | os.PathLike[str], *, trust: bool = False) -> Any:
    """The object in a ``.skops`` file; types beyond :data:`TRUSTED_SKOPS_TYPES` need ``trust``."""
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ModelError("reading .skops files needs skops: pip install 'feint[sklearn]'") from exc
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"skops file {str(file)!r} not found; pass an existing .skops file to --model")
    raw = file.read_bytes()
    try:
        named = skops_types(raw)
    except Exception as exc:  # skops raises zipfile/JSON/key/recursion errors for a damaged file
        raise ModelError(
            f"{file} is not a readable skops file ({str(exc)[:160]}); save it again with skops.io.dump"
        ) from exc
    untrusted = sorted(named - TRUSTED_SKOPS_TYPES)
    if untrusted and not trust:
        shown = ", ".join(untrusted[:8]) + (f" and {len(untrusted) - 8} more" if len(untrusted) > 8 else "")
        raise ModelError(
            f"{file} names types feint does not trust ({shown}): they may hold or be code that runs when "
            "the model predicts. feint loads scikit-learn classifiers that hold no callable (e.g. "
            "LogisticRegression, SVC, random forests, MLPClassifier, in a Pipeline with StandardScaler); "
            "pass --trust-file only if you made the file"
        )
    try:
        return sio.load(io.BytesIO(raw), trusted=sorted(named))
    except Exception as exc:  # a file whose declared types do not rebuild
        raise ModelError(
            f"{file} could not be rebuilt by skops ({str(exc)[:160]}); save it again with skops.io.dump"
        ) from exc


def load_pickle(path: str | os.PathLike[str], *, trust: bool = False) -> Any:
    """The object in a pickle or joblib file, only with ``trust`` (unpickling runs code from the file)."""
    file = Path(path)
    if not trust:
        raise ModelError(
            f"{file} is a pickle: loading it runs any code the file contains, so feint refuses it. Save a "
            "scikit-learn model with skops.io.dump (.skops) or export it to ONNX; pass --trust-file only if you made it"
        )
    if not file.is_file():
        raise ModelError(f"model file {str(file)!r} not found")
    import joblib

    try:
        return joblib.load(file)
    except Exception as exc:  # anything unpickling can raise
        raise ModelError(f"{file} could not be unpickled ({str(exc)[:160]})") from exc
