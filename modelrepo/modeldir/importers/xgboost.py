"""XGBoost: a Booster saved with ``save_model`` as UBJSON (``.ubj``) or JSON (``.json``),
copied as it is; its feature names, categories and objective give the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelrepo.modeldir.importers import Imported
from modelrepo.modeldir.importers.boosters import import_booster
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers.contract import Spec
from wrappers.errors import ScaffoldError
from wrappers.frameworks.boosters import as_frame
from wrappers.frameworks.xgboost import describe
from wrappers.frameworks.xgboost.describe import SUFFIXES


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``model.ubj`` (or ``model.json``)."""
    suffix = Path(request.artifact).suffix
    if suffix not in SUFFIXES:
        raise ScaffoldError(
            f"{request.artifact}: expected an XGBoost model saved as .ubj or .json "
            "(booster.save_model('model.ubj'), or model.save_model for XGBClassifier and "
            "XGBRegressor); a pickled estimator goes through --framework sklearn"
        )
    with step("importing XGBoost"):
        import xgboost  # noqa: F401
    return import_booster(request, work, step, describe, f"model{suffix}", _reference)


def _reference(booster: Any, spec: Spec, value: Any) -> Any:
    """``Booster.predict`` on a DMatrix, from a DataFrame with ``category`` columns for a table."""
    import xgboost

    frame = as_frame(value, spec)
    names = None if hasattr(frame, "columns") else booster.feature_names
    return booster.predict(xgboost.DMatrix(frame, feature_names=names, enable_categorical=True))
