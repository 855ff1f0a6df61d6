"""The contract of a saved XGBoost Booster, read from the model file: what ``modelrepo new``
records and what ``allow_unverified`` serves without a manifest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wrappers.contract import Spec, TensorSpec
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.errors import ManifestError
from wrappers.frameworks.boosters import Objective, input_spec, output_specs

#: what ``Booster.save_model`` writes: UBJSON (XGBoost's default) or JSON; both hold only data
SUFFIXES = (".ubj", ".json")
#: XGBoost computes in float32, so that is what a matrix input declares and answers come in
DTYPE = "float32"
#: objectives whose raw output is a class index, not probabilities
CLASS_OBJECTIVES = ("binary:hinge", "multi:softmax")


def model_file(model_dir: Path) -> str:
    """The model file of a directory without manifest: ``model.ubj``, else ``model.json``."""
    for suffix in SUFFIXES:
        if (model_dir / f"model{suffix}").is_file():
            return f"model{suffix}"
    raise ManifestError(f"no {MANIFEST_FILE} and no model.ubj or model.json in {model_dir}")


def load_booster(path: Path) -> Any:
    """A Booster from a UBJSON or JSON model file (XGBoost's old binary format is refused)."""
    if path.suffix not in SUFFIXES:
        raise ManifestError(
            f"{path.name}: expected an XGBoost model saved as .ubj or .json "
            "(booster.save_model('model.ubj'))"
        )
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(path))
    return booster


def describe(
    booster: Any, methods: Sequence[str] | None = None
) -> tuple[list[Spec], list[TensorSpec], dict[str, Any]]:
    """Inputs, outputs and options of a Booster: its features (a table when it holds
    categories), and outputs from its objective."""
    objective = objective_of(booster)
    names = booster.feature_names
    types = booster.feature_types or []
    integers = [n for n, t in zip(names or [], types, strict=False) if t == "int"]
    spec = input_spec(names, booster.num_features(), DTYPE, categories(booster), integers)
    return [spec], output_specs(objective, methods, DTYPE), objective.options()


def objective_of(booster: Any) -> Objective:
    learner = json.loads(booster.save_config())["learner"]
    name = learner["objective"]["name"]
    params = learner["learner_model_param"]
    if name.startswith("binary:") and name != "binary:logitraw":
        return Objective(name, classes=2, gives_class=name in CLASS_OBJECTIVES)
    if name.startswith("multi:"):
        count = int(params["num_class"])
        return Objective(name, classes=count, gives_class=name in CLASS_OBJECTIVES)
    return Objective(name, targets=max(1, int(params.get("num_target", 1))))


def categories(booster: Any) -> dict[str, list[Any]]:
    """The categories a Booster trained on a DataFrame with ``category`` columns recorded
    (XGBoost 3.1 and later), by feature name, in the order of their codes."""
    if "c" not in (booster.feature_types or []) or not hasattr(booster, "get_categories"):
        return {}
    try:
        found = booster.get_categories(export_to_arrow=True).to_arrow() or []
    except ImportError as exc:  # XGBoost hands its categories over as Arrow arrays
        raise ManifestError(
            f"reading the categories of an XGBoost model needs pyarrow ({exc}); install it, "
            "or serve the model directory with its manifest.json, which records them"
        ) from exc
    return {name: values.to_pylist() for name, values in found if values is not None}
