"""What XGBoost and LightGBM models share: the contract of a gradient-boosted model (features,
categories, outputs from its objective) and the numbers a booster is called on.

A booster answers its objective's raw output: one probability per row for a binary classifier,
one per class for a multiclass one, values for a regressor. A classifier is served as scikit-learn
serves one (``predict_proba`` by default, ``predict`` for the class index), so its clients see
one convention whatever library trained the model.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from wrappers.contract import Column, Spec, TableSpec, TensorDType, TensorSpec
from wrappers.core.manifest import Manifest
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import ManifestError

#: the outputs a booster serves, each named by the scikit-learn method that gives it
METHODS = ("predict_proba", "predict")
#: batches of fewer rows are predicted on one thread: OpenMP's start and join cost more than a
#: second thread saves on them, many times more on a busy machine (docs/frameworks.md)
WIDE_BATCH_ROWS = 1024


@dataclass(frozen=True)
class Objective:
    """What a booster's objective makes of its raw output."""

    name: str
    #: class count of a classifier (2 for binary), 0 for anything else
    classes: int = 0
    #: the raw output is already the class index (XGBoost's ``multi:softmax``, ``binary:hinge``)
    gives_class: bool = False
    #: values per row of a regressor (several targets)
    targets: int = 1

    @property
    def is_classifier(self) -> bool:
        return self.classes > 0

    def methods(self) -> tuple[str, ...]:
        if not self.is_classifier:
            return ("predict",)
        return ("predict",) if self.gives_class else METHODS

    def options(self) -> dict[str, Any]:
        """The manifest's record of the objective, which :meth:`read` reads back."""
        found: dict[str, Any] = {"objective": self.name}
        if self.is_classifier:
            found["classes"] = [str(i) for i in range(self.classes)]
        if self.gives_class:
            found["gives_class"] = True
        if self.targets > 1:
            found["targets"] = self.targets
        return found

    @classmethod
    def read(cls, options: dict[str, Any]) -> Objective:
        if "objective" not in options:
            raise ManifestError("a booster's manifest records its objective in options")
        return cls(
            name=options["objective"],
            classes=len(options.get("classes", [])),
            gives_class=bool(options.get("gives_class", False)),
            targets=int(options.get("targets", 1)),
        )


def output_specs(
    objective: Objective, methods: Sequence[str] | None, dtype: TensorDType
) -> list[TensorSpec]:
    """``predict_proba`` (one column per class index) for a classifier by default, else
    ``predict``; ``methods`` picks others the objective can answer."""
    usable = objective.methods()
    methods = list(methods or usable[:1])
    refused = [m for m in methods if m not in usable]
    if refused:
        raise ManifestError(
            f"a {objective.name} model cannot answer {refused[0]}; it answers {list(usable)}"
        )
    return [output_spec(objective, m, dtype) for m in methods]


def output_spec(objective: Objective, method: str, dtype: TensorDType) -> TensorSpec:
    if method == "predict_proba":
        names = [str(i) for i in range(objective.classes)]
        return TensorSpec(name=method, dtype=dtype, shape=[-1, len(names)], names=names)
    if objective.is_classifier:
        return TensorSpec(name=method, dtype="int64", shape=[-1, 1], names=["class"])
    names = ["prediction"] if objective.targets == 1 else None
    return TensorSpec(name=method, dtype=dtype, shape=[-1, objective.targets], names=names)


def answer(objective: Objective, method: str, raw: np.ndarray) -> np.ndarray:
    """A booster's raw output for ``rows`` rows as ``method`` answers it."""
    rows = len(raw)
    if not objective.is_classifier or objective.gives_class:
        values = raw.reshape(rows, -1)
        return values.astype(np.int64) if objective.is_classifier else values
    if objective.classes == 2:
        positive = raw.reshape(rows, 1)
        if method == "predict":
            return (positive > 0.5).astype(np.int64)
        return np.hstack([1 - positive, positive])
    probabilities = raw.reshape(rows, objective.classes)
    if method == "predict":
        return probabilities.argmax(axis=1).astype(np.int64).reshape(rows, 1)
    return probabilities


def input_spec(
    names: Sequence[str] | None,
    width: int,
    dtype: TensorDType,
    categories: dict[str, list[Any]],
    integers: Sequence[str] = (),
) -> Spec:
    """A table when some features are categorical with known categories (each feature
    nullable: a booster takes a missing value anywhere), else a matrix that takes NaN."""
    if not categories:
        named = list(names) if names else None
        return TensorSpec(name="input", dtype=dtype, shape=[-1, width], names=named, allow_nan=True)
    assert names is not None, "categories are known by feature name"
    columns = [
        Column(name=n, type="category", categories=categories[n], nullable=True)
        if n in categories
        else Column(name=n, type="int" if n in integers else "float", nullable=True)
        for n in names
    ]
    return TableSpec(name="table", columns=columns)


def feature_matrix(value: Any, spec: Spec, dtype: np.dtype) -> np.ndarray:
    """The numbers a booster takes: a table's category columns become the index of their
    value among the training categories (NaN when missing), as the library itself codes them
    for a DataFrame; a matrix passes as it is."""
    if not isinstance(spec, TableSpec):
        return value
    matrix = np.empty((len(value), len(spec.columns)), dtype=dtype)
    for j, column in enumerate(spec.columns):
        values = value[column.name].to_numpy()
        if column.categories is None:
            matrix[:, j] = values
            continue
        index = {category: float(i) for i, category in enumerate(column.categories)}
        matrix[:, j] = [index.get(v, np.nan) if v == v else np.nan for v in values]
    return matrix


def as_frame(value: Any, spec: Spec) -> Any:
    """A checked table as a DataFrame with pandas ``category`` columns over the training
    categories: what the library's own DataFrame path takes."""
    if not isinstance(spec, TableSpec):
        return value
    import pandas as pd

    frame = value.copy()
    for column in spec.columns:
        if column.categories is not None:
            values = [v if v == v else None for v in frame[column.name]]
            frame[column.name] = pd.Categorical(values, categories=column.categories)
        else:
            frame[column.name] = frame[column.name].astype(np.float64)
    return frame


class BoosterRuntime(ServedModel):
    """Serves a booster's model file: each output is named by the scikit-learn method that
    gives it (``predict_proba``, ``predict``), computed from one call of the booster.

    The booster is called on a numeric matrix (a table's categories as their codes), on one
    thread for fewer than ``WIDE_BATCH_ROWS`` rows and with this worker's share of the cores
    for more; the golden pairs, recorded through the library's own DataFrame path, check that
    path at load. The ``method`` setting answers with that one method.
    """

    #: the dtype the library computes in: what a matrix input declares
    dtype: ClassVar[TensorDType]
    #: the framework's describe module: ``model_file``, ``load_booster`` and ``describe``
    describer: ClassVar[ModuleType]

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        if len(self.manifest.inputs) != 1:
            raise ManifestError(f"a {self.framework} model takes one input (its features)")
        self.spec = self.manifest.inputs[0]
        self.objective = Objective.read(self.manifest.options)
        method = self.settings.method
        recorded = {s.name: s for s in self.manifest.outputs}
        if method is None:
            self.served = self.manifest.outputs
        elif method in recorded:
            self.served = [recorded[method]]
        else:
            self.served = output_specs(self.objective, [method], self.dtype)
        self.booster: Any = None

    @property
    def outputs(self) -> list[TensorSpec]:
        return self.served

    def unverified_manifest(self) -> Manifest:
        """The model file alone: the contract is read from the booster."""
        artifact = self.describer.model_file(self.model_dir)
        booster = self.describer.load_booster(self.model_dir / artifact)
        method = self.settings.method
        inputs, outputs, options = self.describer.describe(booster, [method] if method else None)
        return self._describe_unverified(artifact, inputs, outputs, **options)

    def _read(self, path: Path) -> Any:
        """The booster saved at ``path``."""
        return self.describer.load_booster(path)

    @abstractmethod
    def _raw(self, matrix: np.ndarray, threads: int) -> np.ndarray:
        """The booster's raw output for a feature matrix, computed on ``threads`` threads."""

    def threads_for(self, rows: int) -> int:
        """One thread for a small batch; the worker's share of the cores for a wide one."""
        return 1 if rows < WIDE_BATCH_ROWS else self.budget.intra_op_threads

    def _load(self) -> None:
        artifact = self.manifest.options.get("artifact") or self.manifest.artifacts[0].path
        self.booster = self._read(self.source / artifact)

    def _answers(self, inputs: dict[str, Any], served: list[TensorSpec]) -> Outputs:
        (value,) = inputs.values()
        matrix = feature_matrix(value, self.spec, np.dtype(self.dtype))
        raw = self._raw(matrix, self.threads_for(len(matrix)))
        return {s.name: answer(self.objective, s.name, raw) for s in served}

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        return self._answers(inputs, self.served)

    def _reference_predict(self, inputs: dict[str, Any]) -> Outputs:
        return self._answers(inputs, self.manifest.outputs)
