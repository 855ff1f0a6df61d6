"""Artifact formats that load without running code, and the one switch for those that do.

A pickle (joblib, ``torch.save`` of a whole object, the pickled parts of a ``torch.export``
program) runs whatever its bytes say as it loads, and whoever can rewrite it can rewrite
manifest.json's sha256 too. So ``modelrepo new`` reads the user's pickle once, on their own
machine, and writes a format that only holds data: scikit-learn estimators as skops (each
type in the file must be on the allowlist below, never on a list read from the file), torch
weights as safetensors, TensorFlow as a SavedModel graph. A server loads a pickle only when
its deployment says ``allow_pickle``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from wrappers.errors import UnsafeArtifact
from wrappers.settings import Settings

SKOPS_FILE = "model.skops"
SAFETENSORS_FILE = "model.safetensors"
#: file endings of formats that unpickle as they load
PICKLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle", ".pt", ".pth", ".pt2"})

#: types inside fitted scikit-learn estimators that are plain data (their state is arrays),
#: beyond the estimators themselves; each was found in an estimator of this scikit-learn
KNOWN_SKLEARN_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
)

#: scikit-learn's own internals that fitted estimators hold beside their arrays: helper objects,
#: and functions they call by reference (HistGradientBoosting's ``from_dtype`` preprocessor is a
#: ``functools.partial`` of ``check_array``); skops trusts a partial only when its function and
#: arguments are trusted too
SKLEARN_INTERNALS = (
    "functools.partial",
    "numpy.mean",
    "sklearn.utils.validation.check_array",
    "sklearn.utils._bunch.Bunch",
    "sklearn.utils._metadata_requests.MetadataRequest",
    "sklearn.utils._metadata_requests.MethodMetadataRequest",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.cluster._kmeans._kmeans_single_elkan",
    "sklearn.cluster._kmeans._kmeans_single_lloyd",
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
    "sklearn.metrics._scorer._CurveScorer",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.metrics._scorer._Scorer",
    "sklearn.multiclass._ConstantPredictor",
    "scipy.interpolate._bsplines.BSpline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)


#: XGBoost's and LightGBM's scikit-learn estimators, alone or in a Pipeline. Their state is their
#: parameters and a Booster, whose own state is the model itself: XGBoost's serialised buffer
#: (bytes, read by ``XGBoosterUnserializeFromBuffer``) or LightGBM's model string (text, read
#: by ``LGBM_BoosterLoadModelFromString``); neither runs Python code as it is read. A custom
#: objective or metric is a function, which stays off the list.
BOOSTER_ESTIMATOR_TYPES = (
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "collections.OrderedDict",
)


def require_pickle_allowed(settings: Settings, path: Path, what: str) -> None:
    """Refuses to unpickle ``path`` unless the deployment set ``allow_pickle``."""
    if not settings.allow_pickle:
        raise UnsafeArtifact(
            f"{path.name} is {what}, which runs code as it loads: refusing it. Rebuild the "
            f"model directory with `modelrepo new` (it converts to a format that holds only "
            f"data) or, if you trust every byte of it, set allow_pickle=true "
            f"(MODELREPO_ALLOW_PICKLE=1)"
        )


# ---- scikit-learn: skops ---------------------------------------------------------------------


@cache
def sklearn_allowlist() -> tuple[str, ...]:
    """Every scikit-learn estimator and transformer class, the known data types, and XGBoost's
    and LightGBM's estimators."""
    from sklearn.utils import all_estimators

    estimators = (f"{cls.__module__}.{cls.__qualname__}" for _, cls in all_estimators())
    return tuple(
        sorted({*estimators, *KNOWN_SKLEARN_TYPES, *sklearn_internals(), *BOOSTER_ESTIMATOR_TYPES})
    )


def sklearn_internals() -> set[str]:
    """The listed internals, and the families scikit-learn names itself: losses, Gaussian
    process kernels, cross-validation splitters, its scorers' metrics, the univariate score
    functions of ``feature_selection``, and scipy's sparse matrices."""
    import scipy.sparse
    from sklearn import feature_selection, model_selection
    from sklearn._loss import loss
    from sklearn.gaussian_process import kernels
    from sklearn.metrics import get_scorer, get_scorer_names

    families = (
        (loss, loss.BaseLoss),
        (kernels, kernels.Kernel),
        (model_selection, model_selection.BaseCrossValidator),
        (model_selection, model_selection.BaseShuffleSplit),
        (scipy.sparse, scipy.sparse.spmatrix),
        (scipy.sparse, scipy.sparse.sparray),
    )
    classes = {
        obj for module, base in families for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, base)
    }  # fmt: skip
    metrics = {get_scorer(name)._score_func for name in get_scorer_names()}
    scores = {getattr(feature_selection, name) for name in UNIVARIATE_SCORES}
    return {*SKLEARN_INTERNALS, *(_qualified(o) for o in {*classes, *metrics, *scores})}


#: ``feature_selection``'s score functions (``SelectKBest(score_func=...)``)
UNIVARIATE_SCORES = (
    "chi2",
    "f_classif",
    "f_regression",
    "mutual_info_classif",
    "mutual_info_regression",
    "r_regression",
)


def _qualified(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def trusted_types(extra: Iterable[str] = ()) -> list[str]:
    """The allowlist, extended by a deployment's ``trusted_types``."""
    return [*sklearn_allowlist(), *extra]


def save_skops(estimator: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(estimator, path, compression=zipfile.ZIP_DEFLATED)


def load_skops(path: Path, extra: Iterable[str] = ()) -> Any:
    """Loads a skops file whose every type is trusted here; names the ones that are not."""
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.load(path, trusted=trusted_types(extra))
    except UntrustedTypesFoundException as exc:
        raise UnsafeArtifact(
            f"{path.name} holds types that are not on the allowlist ({exc}); if they are "
            f"plain data, add them to the deployment's trusted_types (MODELREPO_TRUSTED_TYPES)"
        ) from exc


# ---- torch: safetensors ----------------------------------------------------------------------


def save_safetensors(state: Mapping[str, Any], path: Path) -> None:
    """Tensors only, each stored on its own (tied weights are written twice)."""
    from safetensors.torch import save_file

    save_file({key: value.detach().contiguous().clone() for key, value in state.items()}, path)


def load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(path, device="cpu")
