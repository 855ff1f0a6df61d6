"""The contract of a saved LightGBM Booster, read from its text model file: what
``modelrepo new`` records and what ``allow_unverified`` serves without a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wrappers.contract import Spec, TensorSpec
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.errors import ManifestError
from wrappers.frameworks.boosters import Objective, input_spec, output_specs

#: what ``Booster.save_model`` writes: LightGBM's text format, which holds only data
MODEL_FILE = "model.txt"
#: LightGBM computes in float64
DTYPE = "float64"
#: objectives whose output is a probability of the positive class, or one per class
BINARY = ("binary", "cross_entropy")
MULTICLASS = ("multiclass", "multiclassova")


def model_file(model_dir: Path) -> str:
    if (model_dir / MODEL_FILE).is_file():
        return MODEL_FILE
    raise ManifestError(f"no {MANIFEST_FILE} and no {MODEL_FILE} in {model_dir}")


def load_booster(path: Path) -> Any:
    """A Booster from a text model file."""
    import lightgbm

    return lightgbm.Booster(model_file=str(path))


def describe(
    booster: Any, methods: Sequence[str] | None = None
) -> tuple[list[Spec], list[TensorSpec], dict[str, Any]]:
    """Inputs, outputs and options of a Booster: its features (a table when it was trained on
    a DataFrame with ``category`` columns), and outputs from its objective."""
    objective = objective_of(booster)
    names = booster.feature_name()
    spec = input_spec(names, booster.num_feature(), DTYPE, categories(booster))
    return [spec], output_specs(objective, methods, DTYPE), objective.options()


def objective_of(booster: Any) -> Objective:
    """From the objective line of the model file, e.g. ``multiclass num_class:3``."""
    name, *params = str(booster.dump_model(num_iteration=1)["objective"]).split()
    if name in BINARY:
        return Objective(name, classes=2)
    if name in MULTICLASS:
        values = dict(p.split(":", 1) for p in params if ":" in p)
        return Objective(name, classes=int(values["num_class"]))
    return Objective(name)


def categories(booster: Any) -> dict[str, list[Any]]:
    """The categories of each ``category`` column of the training DataFrame, by feature name.

    LightGBM records them (``pandas_categorical``) in the order of its categorical features,
    the features whose ``feature_infos`` list values rather than a range.
    """
    known = booster.pandas_categorical or []
    names = booster.feature_name()
    infos = booster.dump_model(num_iteration=1)["feature_infos"]
    categorical = [n for n in names if infos.get(n, {}).get("values")]
    if len(known) != len(categorical):
        return {}  # categorical features given as integer codes: served as numbers
    return {name: list(values) for name, values in zip(categorical, known, strict=True)}
