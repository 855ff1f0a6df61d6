"""XGBoost's and LightGBM's scikit-learn estimators fitted on a DataFrame with pandas
``category`` columns: the categories their Booster recorded, which make those columns
``category`` columns of the table, and the DataFrame they must be called with."""

from __future__ import annotations

from typing import Any

from wrappers.contract import Spec
from wrappers.frameworks.boosters import as_frame
from wrappers.frameworks.lightgbm import describe as lightgbm_describe
from wrappers.frameworks.xgboost import describe as xgboost_describe


def estimator_categories(estimator: Any) -> dict[str, list[Any]]:
    """The categories by column of an XGBoost or LightGBM estimator, or of a Pipeline whose
    first step (the one that sees the columns) is one."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[0][1]
    module = type(estimator).__module__.split(".")[0]
    if module == "xgboost" and hasattr(estimator, "get_booster"):
        return xgboost_describe.categories(estimator.get_booster())
    if module == "lightgbm" and getattr(estimator, "booster_", None) is not None:
        return lightgbm_describe.categories(estimator.booster_)
    return {}


def with_categories(value: Any, spec: Spec, categories: dict[str, list[Any]]) -> Any:
    """A checked table as an estimator with ``categories`` (read once, from
    :func:`estimator_categories`) takes it: its category columns as pandas categories over the
    training categories; anything else as it is."""
    if not categories or not hasattr(value, "columns"):
        return value
    return as_frame(value, spec)
