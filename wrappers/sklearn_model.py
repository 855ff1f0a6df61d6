"""scikit-learn estimators saved with joblib."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import InvalidInput, ManifestError, ModelLoadError
from wrappers.fast_trees import FastPredictor, compile_estimator
from wrappers.manifest import MANIFEST_FILE, InputSpec, Manifest, TensorSpec

logger = logging.getLogger(__name__)

METHODS = ("predict_proba", "predict")


class SklearnModel(ServedModel):
    """Serves ``model.joblib``; ``method`` picks ``predict_proba`` (classifiers) or ``predict``.

    Tree models that :func:`wrappers.fast_trees.compile_estimator` accepts are answered by its
    numpy evaluator (identical outputs, far less per-call overhead) unless ``fast_trees`` is
    off; the golden pairs replayed at load then check that path.
    """

    framework = "sklearn"
    distribution = "scikit-learn"
    module = "sklearn"
    companions = ("joblib",)
    strict_version = True  # scikit-learn pickles are not portable across minor versions

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        options = self.manifest.options
        self.default_method: str = options.get("method", "predict")
        self.method: str = self.settings.method or self.default_method
        if self.method not in METHODS:
            raise ManifestError(f"method must be one of {METHODS}, got {self.method!r}")
        self.classes: list[str] = [str(c) for c in options.get("classes", [])]
        self.estimator: Any = None
        self.fast_path: FastPredictor | None = None

    artifact_file: ClassVar[str] = "model.joblib"

    def unverified_manifest(self) -> Manifest:
        """``model.joblib`` alone: the schema is read from the fitted estimator.

        Unpickling runs code; that is what the user accepted by setting ``allow_unverified``.
        """
        import joblib

        path = self.model_dir / self.artifact_file
        if not path.is_file():
            raise ManifestError(
                f"no {MANIFEST_FILE} and no {self.artifact_file} in {self.model_dir}"
            )
        estimator = joblib.load(path)
        width = getattr(estimator, "n_features_in_", None)
        if not width:
            raise ManifestError(
                f"{type(estimator).__name__} in {path} records no n_features_in_; "
                f"write a {MANIFEST_FILE} for it"
            )
        names = [str(n) for n in getattr(estimator, "feature_names_in_", [])]
        classes = [str(c) for c in getattr(estimator, "classes_", [])]
        method = self.settings.method or (
            "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
        )
        if method == "predict_proba":
            outputs = TensorSpec(names=classes, dtype="float64", shape=[-1, len(classes)])
        else:
            label = "class" if classes else "prediction"
            outputs = TensorSpec(names=[label], dtype=_dtype_name(estimator), shape=[-1, 1])
        inputs = InputSpec(
            names=names or [f"x{i}" for i in range(width)], dtype="float64", shape=[-1, width]
        )
        return self._describe_unverified(
            self.artifact_file, inputs, outputs, method=method, classes=classes
        )

    def _load(self) -> None:
        import joblib

        self.estimator = joblib.load(
            self.model_dir / self.manifest.options.get("artifact", self.artifact_file)
        )
        fit_jobs_to_budget(self.estimator, self.budget.intra_op_threads)
        if not hasattr(self.estimator, self.method):
            usable = [m for m in METHODS if hasattr(self.estimator, m)]
            raise ModelLoadError(
                f"{type(self.estimator).__name__} has no {self.method}(); "
                f"set the method parameter to one of {usable}"
            )
        if self.settings.fast_trees:
            self.fast_path = compile_estimator(self.estimator)
        logger.info(
            "%s predicts with %s",
            self.manifest.name,
            "the fast tree path" if self.fast_path is not None else "scikit-learn",
        )

    def _call(self, method: str, batch: np.ndarray) -> np.ndarray:
        fast = self.fast_path
        model = fast if fast is not None and method in fast.methods else self.estimator
        output = np.asarray(getattr(model, method)(batch))
        return output.reshape(len(batch), -1)

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        try:
            return self._call(self.method, batch)
        except ValueError:
            with np.errstate(over="ignore"):
                beyond_float32 = not np.isfinite(batch.astype(np.float32)).all()
            if beyond_float32:  # trees and others compute in float32, where these are infinite
                raise InvalidInput(
                    f"values beyond ±{np.finfo(np.float32).max:.3g} do not fit "
                    f"{type(self.estimator).__name__}, which computes in float32"
                ) from None
            raise

    def _reference_predict(self, batch: np.ndarray) -> np.ndarray:
        return self._call(self.default_method, batch)

    @property
    def output_names(self) -> list[str]:
        if self.method == self.default_method:
            return self.manifest.outputs.names
        return self.classes if self.method == "predict_proba" else ["class"]


def _dtype_name(estimator: Any) -> str:
    classes = getattr(estimator, "classes_", None)
    return str(np.asarray(classes).dtype) if classes is not None else "float64"


def fit_jobs_to_budget(estimator: Any, threads: int) -> None:
    """Caps every ``n_jobs`` of the estimator (and of its steps) at this worker's share of
    the cores. A smaller value stays: for the few rows of a request, joblib's threads cost
    more than they save, so workers, not jobs, use the cores."""
    if not hasattr(estimator, "get_params"):
        return
    params = estimator.get_params(deep=True)
    too_many = {
        name: threads
        for name, jobs in params.items()
        if (name == "n_jobs" or name.endswith("__n_jobs"))
        and isinstance(jobs, int)
        and (jobs < 0 or jobs > threads)
    }
    if too_many:
        estimator.set_params(**too_many)
