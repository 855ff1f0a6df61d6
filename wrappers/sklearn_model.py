"""scikit-learn estimators saved with joblib."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ManifestError, ModelLoadError
from wrappers.fast_trees import FastPredictor, compile_estimator

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

    def _load(self) -> None:
        import joblib

        self.estimator = joblib.load(
            self.model_dir / self.manifest.options.get("artifact", self.artifact_file)
        )
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
        return self._call(self.method, batch)

    def _reference_predict(self, batch: np.ndarray) -> np.ndarray:
        return self._call(self.default_method, batch)

    @property
    def output_names(self) -> list[str]:
        if self.method == self.default_method:
            return self.manifest.outputs.names
        return self.classes if self.method == "predict_proba" else ["class"]
