"""The contract of a fitted scikit-learn estimator, read from its fitted attributes: what
``modelrepo new`` records and what ``allow_unverified`` serves without a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wrappers.contract import Column, Spec, TableSpec, TensorSpec, TextSpec
from wrappers.core.formats import SKOPS_FILE
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.errors import ManifestError
from wrappers.frameworks.sklearn.boosters import estimator_categories

#: the estimator methods served as outputs, each output named by its method
METHODS = (
    "predict_proba",
    "predict",
    "decision_function",
    "predict_log_proba",
    "score_samples",
    "transform",
)
#: what a model directory held before skops: served only with ``allow_pickle``
PICKLE_FILE = "model.joblib"


def unverified_artifact(model_dir: Path) -> str:
    """The artifact of a directory without manifest: ``model.skops``, else ``model.joblib``."""
    for name in (SKOPS_FILE, PICKLE_FILE):
        if (model_dir / name).is_file():
            return name
    raise ManifestError(f"no {MANIFEST_FILE} and no {SKOPS_FILE} in {model_dir}")


def describe(
    estimator: Any, methods: Sequence[str] | None = None, sample: Any = None
) -> tuple[list[Spec], list[TensorSpec], dict[str, Any]]:
    """Inputs, outputs and options of a fitted estimator, from its fitted attributes."""
    outputs, options = describe_outputs(estimator, methods)
    return [input_spec(estimator, sample)], outputs, options


def describe_outputs(
    estimator: Any, methods: Sequence[str] | None = None
) -> tuple[list[TensorSpec], dict[str, Any]]:
    """One output per method (by default the probabilities of a classifier, else its
    predictions, else what it transforms to), and the classes as options."""
    classes = [_plain(c) for c in getattr(estimator, "classes_", [])]
    label = "string" if any(isinstance(c, str) for c in classes) else "int64"
    if not classes:
        label = "float64"
    methods = list(methods or default_methods(estimator))
    names = [str(c) for c in classes]
    outputs = [output_spec(m, names, label, transformed_names(estimator, m)) for m in methods]
    options: dict[str, Any] = {"classes": names} if classes else {}
    return outputs, options


def default_methods(estimator: Any) -> list[str]:
    """A classifier answers its probabilities, a predictor its predictions, a transformer
    (or a Pipeline ending in one) what it transforms to."""
    for method in ("predict_proba", "predict", "transform"):
        if hasattr(estimator, method):
            return [method]
    return ["predict"]


def output_spec(
    method: str, classes: list[str], label: str, columns: list[str] | None = None
) -> TensorSpec:
    """The output a method gives: a column per class for probabilities (and a multi-class
    decision function), a column per transformed feature, else one column."""
    per_class = ("predict_proba", "predict_log_proba")
    if method in per_class or (method == "decision_function" and len(classes) > 2):
        return TensorSpec(name=method, dtype="float64", shape=[-1, len(classes)], names=classes)
    if method == "transform":
        width = len(columns) if columns else -1
        return TensorSpec(name=method, dtype="float64", shape=[-1, width], names=columns)
    single = {"decision_function": "decision", "score_samples": "score"}
    if method in single:
        return TensorSpec(name=method, dtype="float64", shape=[-1, 1], names=[single[method]])
    column = "class" if classes else "prediction"
    return TensorSpec(name=method, dtype=label, shape=[-1, 1], names=[column])  # type: ignore[arg-type]


def transformed_names(estimator: Any, method: str) -> list[str] | None:
    """The columns ``transform`` gives, from ``get_feature_names_out`` (None: not known)."""
    if method != "transform" or not hasattr(estimator, "get_feature_names_out"):
        return None
    try:
        return [str(n) for n in estimator.get_feature_names_out()]
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        return None


def input_spec(estimator: Any, sample: Any = None) -> Spec:
    """A text vectorizer first makes a text input; fitted feature names with a sample of
    non-numeric columns (or encoders) make a table; anything else is a numeric matrix.
    ``sample`` (a DataFrame, rows or texts) gives the columns' types and nulls.
    """
    first = _first_step(estimator)
    if _is_text_vectorizer(first):
        return TextSpec(name="text")
    names = [str(n) for n in getattr(estimator, "feature_names_in_", [])]
    encoded = encoded_columns(estimator)
    frame = _frame(sample, names)
    numeric = frame is None or all(frame[n].dtype.kind in "iuf" for n in names)
    if names and (encoded or not numeric):
        # a model that takes NaN anywhere (HistGradientBoosting, XGBoost, LightGBM) takes a
        # null in every column; otherwise where an imputer fills it or the sample had one
        nullable = set(names) if accepts_nan(estimator) else imputed_columns(estimator)
        return TableSpec(
            name="table", columns=[_column(n, frame, encoded, nullable) for n in names]
        )
    width = getattr(estimator, "n_features_in_", None) or (
        np.shape(sample)[1] if sample is not None else None
    )
    if not width:
        raise ManifestError(
            f"{type(estimator).__name__} records no n_features_in_; pass a sample or the "
            "number of features"
        )
    return TensorSpec(
        name="input",
        dtype="float64",
        shape=[-1, int(width)],
        names=names or [f"x{i}" for i in range(int(width))],
    )


def _column(
    name: str, frame: Any, encoded: dict[str, list[Any] | None], nullable_columns: set[str]
) -> Column:
    nullable = name in nullable_columns or (frame is not None and bool(frame[name].isna().any()))
    if name in encoded:
        categories = encoded[name]
        if categories is None:  # the encoder takes unknown values too
            return Column(name=name, type="string", nullable=nullable)
        return Column(name=name, type="category", categories=categories, nullable=nullable)
    if frame is None:
        return Column(name=name, type="float", nullable=nullable)
    kind = frame[name].dtype.kind
    column_type = {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "string")
    return Column(name=name, type=column_type, nullable=nullable)  # type: ignore[arg-type]


def _frame(sample: Any, names: list[str]) -> Any:
    if sample is None or not names:
        return None
    import pandas as pd

    frame = sample if isinstance(sample, pd.DataFrame) else pd.DataFrame(sample, columns=names)
    frame = frame.infer_objects()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ManifestError(f"the sample has no columns {missing}, which the model was fitted on")
    return frame


def encoded_columns(estimator: Any) -> dict[str, list[Any] | None]:
    """Columns that a fitted encoder takes, with its known categories (None: any value)."""
    found: dict[str, list[Any] | None] = {}
    for transformer, columns in _column_steps(estimator):
        recorded = estimator_categories(transformer)  # XGBoost's and LightGBM's estimators
        found.update({c: recorded[c] for c in columns if c in recorded})
        categories = getattr(transformer, "categories_", None)
        if categories is None:
            found.update(_learned_categories(transformer, columns))
        if categories is None or not hasattr(transformer, "handle_unknown"):
            continue
        known = transformer.handle_unknown == "error"
        for column, values in zip(columns, categories, strict=False):
            found[column] = [_plain(v) for v in values if not _is_nan(v)] if known else None
    return found


def _learned_categories(estimator: Any, columns: list[str]) -> dict[str, list[Any]]:
    """The categories HistGradientBoosting learned from pandas ``category`` columns
    (``categorical_features="from_dtype"``). It would take an unknown value as missing; the
    contract names the known ones, so a misspelt category is refused, not silently dropped."""
    preprocessor = getattr(estimator, "_preprocessor", None)
    mask = getattr(estimator, "is_categorical_", None)
    if preprocessor is None or mask is None or len(columns) != len(mask):
        return {}
    encoder = preprocessor.named_transformers_.get("encoder")
    chosen = [c for c, categorical in zip(columns, mask, strict=True) if categorical]
    return {
        column: [_plain(v) for v in values if not _is_nan(v)]
        for column, values in zip(chosen, getattr(encoder, "categories_", []), strict=False)
    }


def accepts_nan(estimator: Any) -> bool:
    """The estimator's own word (its ``allow_nan`` input tag) that NaN is a valid input."""
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.allow_nan)
    except (ImportError, AttributeError, TypeError):
        return False


def imputed_columns(estimator: Any) -> set[str]:
    """Columns that pass through an imputer first, so missing values are expected."""
    return {
        column
        for transformer, columns in _column_steps(estimator)
        if type(transformer).__name__.endswith("Imputer")
        for column in columns
    }


def _column_steps(estimator: Any) -> list[tuple[Any, list[str]]]:
    """Each fitted transformer with the input columns it sees (ColumnTransformers unfolded)."""
    names = [str(n) for n in getattr(estimator, "feature_names_in_", [])]
    steps: list[tuple[Any, list[str]]] = []

    def visit(node: Any, columns: list[str]) -> None:
        if hasattr(node, "transformers_"):
            for _, transformer, selected in node.transformers_:
                if isinstance(transformer, str):
                    continue
                visit(transformer, _selected(node, selected))
        elif hasattr(node, "steps"):
            for _, step in node.steps:  # imputers keep their columns; other steps make new ones
                visit(step, columns)
                columns = columns if type(step).__name__.endswith("Imputer") else []
        else:
            steps.append((node, columns))

    visit(estimator, names)
    return steps


def _selected(transformer: Any, selected: Any) -> list[str]:
    names = [str(n) for n in getattr(transformer, "feature_names_in_", [])]
    if isinstance(selected, str):
        return [selected]
    selected = list(np.asarray(selected).ravel())
    if selected and isinstance(selected[0], bool | np.bool_):
        return [n for n, keep in zip(names, selected, strict=False) if keep]
    return [names[int(s)] if isinstance(s, int | np.integer) else str(s) for s in selected]


def _first_step(estimator: Any) -> Any:
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[0][1]
    return estimator


def _is_text_vectorizer(step: Any) -> bool:
    from sklearn.feature_extraction.text import HashingVectorizer, _VectorizerMixin

    return isinstance(step, _VectorizerMixin | HashingVectorizer)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
