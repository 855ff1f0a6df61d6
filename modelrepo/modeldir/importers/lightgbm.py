"""LightGBM: a Booster saved with ``save_model`` (its text format), copied as it is; its feature
names, ``pandas_categorical`` and objective give the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelrepo.modeldir.importers import Imported
from modelrepo.modeldir.importers.boosters import import_booster
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers.contract import Spec
from wrappers.frameworks.boosters import as_frame
from wrappers.frameworks.lightgbm import describe
from wrappers.frameworks.lightgbm.describe import MODEL_FILE


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``model.txt``."""
    with step("importing LightGBM"):
        import lightgbm  # noqa: F401
    return import_booster(request, work, step, describe, MODEL_FILE, _reference)


def _reference(booster: Any, spec: Spec, value: Any) -> Any:
    """``Booster.predict`` on a DataFrame with ``category`` columns for a table (LightGBM maps
    them to its codes with the categories it recorded), else on the matrix."""
    return booster.predict(as_frame(value, spec))
