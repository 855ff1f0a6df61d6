"""scikit-learn: a fitted estimator or Pipeline saved with joblib (or skops), stored as skops;
its fitted attributes (and the sample's column types) give the contract."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir import usercode
from modelrepo.modeldir.importers import Imported, Predict
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers import wrapper_for
from wrappers.contract import Spec, TensorSpec
from wrappers.core.formats import SKOPS_FILE, load_skops, save_skops, sklearn_allowlist
from wrappers.errors import ManifestError, ScaffoldError, UnsafeArtifact
from wrappers.frameworks.sklearn.boosters import estimator_categories, with_categories
from wrappers.frameworks.sklearn.describe import METHODS, describe_outputs, input_spec
from wrappers.frameworks.sklearn.model import method_answer
from wrappers.settings import Settings

#: frameworks whose scikit-learn estimators a model may hold, by their top-level module
ESTIMATOR_FRAMEWORKS = ("xgboost", "lightgbm")


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``model.skops`` and checks that it answers as the user's estimator does; the
    user's own modules it imports go to ``code/``, and the names it holds beyond the
    allowlist must have been trusted."""
    artifact, trust = Path(request.artifact), _trust(request)
    before = set(sys.modules)
    with usercode.importable(request.code, artifact):
        with step("loading the scikit-learn estimator"):
            estimator = _read_estimator(artifact, trust)
        kind = type(estimator).__name__
        _check_estimator(estimator, request)
        outputs, options = describe_outputs(estimator, request.methods)
        with step(f"converting {kind} to {SKOPS_FILE}"):
            stored, trusted = _stored_as_skops(estimator, work / SKOPS_FILE, trust)
        unused = [t for t in request.trust if t not in trusted]
        if unused:
            raise ScaffoldError(
                f"--trust {unused[0]}: the model holds no such name (beyond the allowlist it "
                f"holds {trusted or 'nothing'})"
            )
        code, requirements = _user_code(request, trusted, before, work)
    requirements += booster_pins(work / SKOPS_FILE)
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
        trusted_types=trusted,
        code=code,
        requirements=requirements,
    )


def _user_code(
    request: NewModel, trusted: list[str], before: set[str], work: Path
) -> tuple[list[str], list[str]]:
    """Copies the user's modules that hold trusted names (and the modules beside them that
    they imported) into ``code/``; pins the installed packages of the other trusted names."""
    modules = {usercode.top_module(t) for t in trusted}
    own = {m for m in modules if not usercode.is_installed(m)}
    beside = [usercode.source_of(m).parent for m in own] + [p.parent for p in request.code]
    own |= usercode.neighbours_since(before, beside)
    return usercode.copy_modules(own, request.code, work), usercode.pins(modules - own)


def _trust(request: NewModel) -> list[str]:
    """The names trusted with ``--trust`` and by the ``trusted_types`` setting."""
    return [*request.trust, *Settings.resolve({}).trusted_types]


def booster_pins(path: Path) -> list[str]:
    """The framework packages besides scikit-learn that the estimators in a skops file come
    from (XGBoost's, LightGBM's), pinned at their installed versions."""
    import skops.io

    modules = {name.split(".")[0] for name in skops.io.get_untrusted_types(file=path)}
    return [
        f"{wrapper_for(m).distribution}=={wrapper_for(m).installed_version()}"
        for m in ESTIMATOR_FRAMEWORKS
        if m in modules
    ]


def _check_estimator(estimator: Any, request: NewModel) -> None:
    """A fitted estimator with a method to serve, and every method asked for."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    kind = type(estimator).__name__
    if not any(hasattr(estimator, m) for m in METHODS):
        raise ScaffoldError(
            f"{request.artifact} holds a {kind}, which has none of the methods served: "
            f"{', '.join(METHODS)}"
        )
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
        return {o.name: method_answer(model, o.name, X) for o in outputs}

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


def _read_estimator(artifact: Path, trust: list[str]) -> Any:
    """The user's estimator: a skops file against the allowlist, else their joblib pickle,
    unpickled here, once, on the machine that made it."""
    if artifact.suffix == ".skops":
        try:
            return load_skops(artifact, trust)
        except UnsafeArtifact as exc:
            raise ScaffoldError(str(exc)) from exc
        except Exception as exc:  # skops raises many types for a bad file
            raise ScaffoldError(f"{artifact} is not a skops file: {exc}") from exc
    import joblib

    try:
        return joblib.load(artifact)
    except ModuleNotFoundError as exc:
        raise ScaffoldError(
            f"{artifact} imports the module {exc.name!r}, which is neither installed nor beside "
            f"it: pass --code {exc.name}.py (the file that defines it)"
        ) from exc
    except Exception as exc:  # any unpickling failure means: not a joblib estimator
        raise ScaffoldError(f"{artifact} is not a joblib file: {exc}") from exc


def _stored_as_skops(estimator: Any, path: Path, trust: list[str]) -> tuple[Any, list[str]]:
    """Writes ``path`` and reads it back as the server will (the allowlist and the names it
    needs beyond it, each trusted by the user; no pickle); returns it and those names."""
    import skops.io

    try:
        save_skops(estimator, path)
    except Exception as exc:  # skops cannot represent some objects (lambdas, open files)
        raise ScaffoldError(
            f"{type(estimator).__name__} cannot be stored as skops ({type(exc).__name__}: "
            f"{exc}); a model that holds Python functions cannot be served without pickle"
        ) from exc
    allowed = set(sklearn_allowlist())
    needed = sorted(t for t in skops.io.get_untrusted_types(file=path) if t not in allowed)
    untrusted = [t for t in needed if t not in trust]
    if untrusted:
        raise ScaffoldError(untrusted_message(untrusted))
    try:
        return load_skops(path, needed), needed
    except UnsafeArtifact as exc:
        raise ScaffoldError(str(exc)) from exc


def untrusted_message(names: list[str]) -> str:
    """Names each type or function beyond the allowlist, says whose it is, and how to trust it."""
    described = []
    for name in names:
        module = usercode.top_module(name)
        whose = "installed" if usercode.is_installed(module) else f"your code, {module}.py"
        described.append(f"{name} ({whose})")
    flags = " ".join(f"--trust {n}" for n in names)
    return (
        f"the model holds {', '.join(described)}, beyond the scikit-learn allowlist; loading "
        f"it imports them and may call them. If you trust them, pass {flags}"
    )
