"""scikit-learn: a fitted estimator or Pipeline saved with joblib (or skops), stored as skops;
its fitted attributes (and the sample's column types) give the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir.importers import Imported, Predict
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers import wrapper_for
from wrappers.contract import Spec, TensorSpec
from wrappers.core.formats import SKOPS_FILE, load_skops, save_skops
from wrappers.errors import ManifestError, ScaffoldError, UnsafeArtifact
from wrappers.frameworks.sklearn.boosters import estimator_categories, with_categories
from wrappers.frameworks.sklearn.describe import METHODS, describe_outputs, input_spec
from wrappers.settings import Settings

#: frameworks whose scikit-learn estimators a model may hold, by their top-level module
ESTIMATOR_FRAMEWORKS = ("xgboost", "lightgbm")


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``model.skops`` and checks that it answers as the user's estimator does."""
    with step("loading the scikit-learn estimator"):
        estimator = _read_estimator(Path(request.artifact))
    kind = type(estimator).__name__
    _check_estimator(estimator, request)
    outputs, options = describe_outputs(estimator, request.methods)
    with step(f"converting {kind} to {SKOPS_FILE}"):
        stored = _stored_as_skops(estimator, work / SKOPS_FILE)
    options = {**options, **requires(work / SKOPS_FILE)}
    fitted = getattr(estimator, "feature_names_in_", None)
    inputs = _inputs(estimator, request, sample)
    return Imported(
        artifacts=[SKOPS_FILE],
        predict=_same_answers(estimator, stored, outputs, inputs[0] if inputs else None),
        kind=kind,
        tolerance=1e-9,
        inputs=inputs,
        outputs=outputs,
        dtype="float64",
        names=[str(n) for n in fitted] if fitted is not None else None,
        options=options,
    )


def requires(path: Path) -> dict[str, Any]:
    """``requires``: the framework packages besides scikit-learn that the estimators in a skops
    file come from (XGBoost's, LightGBM's), at their installed versions, for requirements.txt."""
    import skops.io

    modules = {name.split(".")[0] for name in skops.io.get_untrusted_types(file=path)}
    found = {
        wrapper_for(m).distribution: wrapper_for(m).installed_version()
        for m in ESTIMATOR_FRAMEWORKS
        if m in modules
    }
    return {"requires": found} if found else {}


def _check_estimator(estimator: Any, request: NewModel) -> None:
    """A fitted estimator with predict() and every method asked for."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    kind = type(estimator).__name__
    if not hasattr(estimator, "predict"):
        raise ScaffoldError(f"{request.artifact} holds a {kind}, not an estimator with predict()")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ScaffoldError(f"{request.artifact} holds an unfitted {kind}: fit it first") from exc
    except TypeError:
        pass  # not a scikit-learn estimator class; predict() will tell
    missing = [m for m in request.methods or [] if m not in METHODS or not hasattr(estimator, m)]
    if missing:
        usable = [m for m in METHODS if hasattr(estimator, m)]
        raise ScaffoldError(f"{kind} cannot serve --method {missing[0]}; use any of {usable}")


def _inputs(estimator: Any, request: NewModel, sample: Sample | None) -> list[Spec] | None:
    """The estimator's input; None when only the flags can give its width."""
    try:
        return [input_spec(estimator, sample.value if sample is not None else None)]
    except ManifestError as exc:
        if not (request.n_features or request.features):
            raise ScaffoldError(f"{exc}: pass --n-features N or --sample rows.csv") from exc
        return None  # a matrix of the flags' width


def _same_answers(
    estimator: Any, stored: Any, outputs: list[TensorSpec], spec: Spec | None
) -> Predict:
    """The user's estimator as the golden reference; the skops copy must answer the same."""

    categories = estimator_categories(estimator)

    def answers(model: Any, X: Any) -> dict[str, np.ndarray]:
        X = with_categories(X, spec, categories) if spec is not None else X
        return {o.name: np.asarray(getattr(model, o.name)(X)).reshape(len(X), -1) for o in outputs}

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        (X,) = checked.values()
        expected, actual = answers(estimator, X), answers(stored, X)
        for name, value in expected.items():
            if not np.array_equal(value, actual[name]):
                raise ScaffoldError(
                    f"the estimator read back from {SKOPS_FILE} answers {name} "
                    "differently from the original"
                )
        return expected

    return predict


def _read_estimator(artifact: Path) -> Any:
    """The user's estimator: a skops file against the allowlist, else their joblib pickle,
    unpickled here, once, on the machine that made it."""
    if artifact.suffix == ".skops":
        try:
            return load_skops(artifact, Settings.resolve({}).trusted_types)
        except UnsafeArtifact as exc:
            raise ScaffoldError(str(exc)) from exc
        except Exception as exc:  # skops raises many types for a bad file
            raise ScaffoldError(f"{artifact} is not a skops file: {exc}") from exc
    import joblib

    try:
        return joblib.load(artifact)
    except Exception as exc:  # any unpickling failure means: not a joblib estimator
        raise ScaffoldError(f"{artifact} is not a joblib file: {exc}") from exc


def _stored_as_skops(estimator: Any, path: Path) -> Any:
    """Writes ``path`` and reads it back as the server will (the allowlist, no pickle)."""
    try:
        save_skops(estimator, path)
    except Exception as exc:  # skops cannot represent some objects (lambdas, open files)
        raise ScaffoldError(
            f"{type(estimator).__name__} cannot be stored as skops ({type(exc).__name__}: "
            f"{exc}); a model that holds Python functions cannot be served without pickle"
        ) from exc
    try:
        return load_skops(path, Settings.resolve({}).trusted_types)
    except UnsafeArtifact as exc:
        raise ScaffoldError(str(exc)) from exc
