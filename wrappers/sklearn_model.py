"""scikit-learn estimators saved with joblib."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ManifestError, ModelLoadError

METHODS = ("predict_proba", "predict")


class SklearnModel(ServedModel):
    """Serves ``model.joblib``; ``method`` picks ``predict_proba`` (classifiers) or ``predict``."""

    framework = "sklearn"
    distribution = "scikit-learn"
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

    artifact_file: ClassVar[str] = "model.joblib"

    def installed_version(self) -> str:
        import sklearn

        return sklearn.__version__

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

    def _call(self, method: str, batch: np.ndarray) -> np.ndarray:
        output = np.asarray(getattr(self.estimator, method)(batch))
        return output.reshape(len(batch), -1)

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        return self._call(self.method, batch)

    def _reference_predict(self, batch: np.ndarray) -> np.ndarray:
        return self._call(self.default_method, batch)

    @property
    def output_names(self) -> list[str]:
        if self.method == self.default_method:
            return self.manifest.outputs.names
        return self.classes if self.method == "predict_proba" else ["class"]


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
