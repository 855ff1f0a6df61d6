"""scikit-learn estimators and Pipelines stored as skops: over matrices, DataFrames or texts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wrappers.contract import TensorSpec
from wrappers.core.formats import (
    SKOPS_FILE,
    load_skops,
    require_pickle_allowed,
    sklearn_allowlist,
)
from wrappers.core.manifest import Manifest
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import InvalidInput, ManifestError, ModelLoadError
from wrappers.frameworks.sklearn.boosters import estimator_categories, with_categories
from wrappers.frameworks.sklearn.describe import (
    METHODS,
    describe,
    describe_outputs,
    output_spec,
    unverified_artifact,
)
from wrappers.frameworks.sklearn.fast_trees import FastPredictor, compile_estimator

logger = logging.getLogger(__name__)


class SklearnRuntime(ServedModel):
    """Serves ``model.skops``: each output is the estimator method of the same name.

    The ``method`` setting answers with that one method instead of the manifest's outputs.
    Tree models that :func:`~wrappers.frameworks.sklearn.fast_trees.compile_estimator` accepts
    are answered by its numpy evaluator (identical outputs, far less per-call overhead) unless
    ``fast_trees`` is off; the golden pairs replayed at load then check that path.
    """

    framework = "sklearn"
    distribution = "scikit-learn"
    module = "sklearn"
    companions = ("skops",)
    strict_version = True  # scikit-learn's fitted state is not portable across minor versions
    artifact_file: ClassVar[str] = SKOPS_FILE

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        if len(self.manifest.inputs) != 1:
            raise ManifestError("a scikit-learn model takes one input (its X)")
        unknown = [s.name for s in self.manifest.outputs if s.name not in METHODS]
        if unknown:
            raise ManifestError(f"scikit-learn outputs are named by method {METHODS}: {unknown}")
        method = self.settings.method
        if method is not None and method not in METHODS:
            raise ManifestError(f"method must be one of {METHODS}, got {method!r}")
        self.served = [self._output(method)] if method else self.manifest.outputs
        self.estimator: Any = None
        #: XGBoost's or LightGBM's categories, whose columns it takes as pandas categories
        self.booster_categories: dict[str, list[Any]] = {}
        self.fast_path: FastPredictor | None = None
        if self._artifact().endswith(".skops"):
            # walked once here: Seldon's microservice builds this object before gunicorn forks
            # and calls load() in each worker, which inherits the cached allowlist
            sklearn_allowlist()

    def _output(self, method: str) -> TensorSpec:
        recorded = {s.name: s for s in self.manifest.outputs}
        classes = self.manifest.options.get("classes", [])
        return recorded.get(method) or output_spec(method, classes, "string")

    @property
    def outputs(self) -> list[TensorSpec]:
        return self.served

    def unverified_manifest(self) -> Manifest:
        """``model.skops`` (or, with ``allow_pickle``, ``model.joblib``) alone: the contract is
        read from the fitted estimator."""
        artifact = unverified_artifact(self.model_dir)
        estimator = self._read(self.model_dir / artifact)
        method = self.settings.method
        inputs, outputs, options = describe(estimator, [method] if method else None)
        return self._describe_unverified(artifact, inputs, outputs, **options)

    def _read(self, path: Path) -> Any:
        """skops against the allowlist; joblib (a pickle) only with ``allow_pickle``."""
        if path.suffix == ".skops":
            # the manifest's choice (none while an unverified directory is described) and the
            # deployment's
            manifest = getattr(self, "manifest", None)
            recorded = manifest.trusted_types if manifest is not None else []
            return load_skops(path, [*recorded, *self.settings.trusted_types])
        require_pickle_allowed(self.settings, path, "a joblib pickle")
        import joblib

        return joblib.load(path)

    def _artifact(self) -> str:
        """The estimator's file, as the manifest names it."""
        return self.manifest.options.get("artifact") or self.manifest.artifacts[0].path

    def _load(self) -> None:
        self.estimator = self._read(self.source / self._artifact())
        self.booster_categories = estimator_categories(self.estimator)
        fit_jobs_to_budget(self.estimator, self.budget.intra_op_threads)
        missing = [s.name for s in self.served if not hasattr(self.estimator, s.name)]
        if missing:
            usable = [m for m in METHODS if hasattr(self.estimator, m)]
            raise ModelLoadError(
                f"{type(self.estimator).__name__} has no {', '.join(missing)}(); "
                f"set the method parameter to one of {usable}"
            )
        method = self.settings.method
        if method and method not in self.manifest.output_names:  # described by the estimator
            self.served = describe_outputs(self.estimator, [method])[0]
        if self.settings.fast_trees and self.manifest.matrix is not None:
            self.fast_path = compile_estimator(self.estimator)
        logger.info(
            "%s predicts with %s",
            self.manifest.name,
            "the fast tree path" if self.fast_path is not None else "scikit-learn",
        )

    def _call(self, method: str, X: Any) -> np.ndarray:
        X = with_categories(X, self.manifest.inputs[0], self.booster_categories)
        fast = self.fast_path
        model = fast if fast is not None and method in fast.methods else self.estimator
        return method_answer(model, method, X)

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        (X,) = inputs.values()
        try:
            return {s.name: self._call(s.name, X) for s in self.served}
        except ValueError:
            if isinstance(X, np.ndarray) and X.dtype.kind == "f":
                with np.errstate(over="ignore"):
                    beyond_float32 = not np.isfinite(X.astype(np.float32)).all()
                if beyond_float32:  # trees and others compute in float32, where these are inf
                    raise InvalidInput(
                        f"values beyond ±{np.finfo(np.float32).max:.3g} do not fit "
                        f"{type(self.estimator).__name__}, which computes in float32"
                    ) from None
            raise

    def _reference_predict(self, inputs: dict[str, Any]) -> Outputs:
        (X,) = inputs.values()
        return {s.name: self._call(s.name, X) for s in self.manifest.outputs}


def method_answer(model: Any, method: str, X: Any) -> np.ndarray:
    """What ``model.<method>(X)`` answers, dense, one row per input row (an encoder's
    ``transform`` may answer a sparse matrix)."""
    value = getattr(model, method)(X)
    if hasattr(value, "toarray"):
        value = value.toarray()
    return np.asarray(value).reshape(len(X), -1)


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
