"""The skops allowlist covers scikit-learn: every estimator of ``all_estimators()`` that takes a
2-D array, fitted on a small sample, is stored as skops and read back with no trusted types
beyond the allowlist, and answers every method exactly as before.

Estimators are constructed as scikit-learn's own common tests construct them (meta-estimators
with the sub-estimators its test suite gives them); the sample is chosen from each estimator's
tags: a square kernel for pairwise input, positive targets where the loss needs them, two target
columns for multi-output-only estimators, and a fixed ``random_state``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import make_classification
from sklearn.utils._test_common.instance_generator import (
    _get_check_estimator_ids,
    _tested_estimators,
)
from sklearn.utils._testing import set_random_state

from wrappers.core.formats import load_skops, save_skops
from wrappers.frameworks.sklearn.describe import METHODS

ESTIMATORS = list(_tested_estimators())


def sample(estimator: Any) -> tuple[np.ndarray, np.ndarray]:
    """40 rows of 3 positive features, and a target the estimator's tags ask for."""
    tags = estimator.__sklearn_tags__()
    X, labels = make_classification(
        n_samples=40, n_features=3, n_informative=3, n_redundant=0, random_state=0
    )
    X = X - X.min() + 0.1
    if tags.input_tags.pairwise:
        X = X @ X.T
    y: np.ndarray = labels
    if is_regressor(estimator) and not is_classifier(estimator):
        y = X[:, 0] + 0.5 * X[:, 1]
    if tags.target_tags.positive_only:
        y = y + 1.0
    if not tags.target_tags.single_output:
        y = np.column_stack([y, y[::-1]])
    return X, y


def answers(estimator: Any, X: np.ndarray) -> dict[str, Any]:
    """Every method the fitted estimator answers on ``X``."""
    found = {}
    for method in METHODS:
        if not hasattr(estimator, method):
            continue
        try:
            value = getattr(estimator, method)(X)
        except (AttributeError, NotImplementedError, ValueError):
            continue  # a method this configuration does not offer
        found[method] = value.toarray() if hasattr(value, "toarray") else np.asarray(value)
    return found


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_get_check_estimator_ids)
def test_every_estimator_round_trips_through_skops_on_the_allowlist(tmp_path, estimator):
    tags = estimator.__sklearn_tags__()
    if not tags.input_tags.two_d_array:
        pytest.skip("takes no 2-D array (texts, dicts, labels or one feature)")
    X, y = sample(estimator)
    set_random_state(estimator)  # as scikit-learn's checks do: random methods answer alike
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator.fit(X, y)
        path = tmp_path / "model.skops"
        try:
            save_skops(fitted, path)
        except skops.io.exceptions.UnsupportedTypeException as exc:
            pytest.skip(f"skops cannot store it: {exc}")
        before = answers(fitted, X)
        loaded = load_skops(path)
        after = answers(loaded, X)
    assert type(loaded) is type(fitted)
    assert after.keys() == before.keys()
    for method, value in before.items():
        # equal up to the last bits of float64 (BLAS may sum in another order)
        np.testing.assert_allclose(after[method], value, rtol=1e-12, atol=0, err_msg=method)


@pytest.mark.parametrize(
    "kind", ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor"]
)
def test_hist_gradient_boosting_over_categories_round_trips(tmp_path, kind):
    """``categorical_features="from_dtype"`` keeps a ``functools.partial`` of ``check_array``."""
    import pandas as pd
    from sklearn import ensemble

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=200), "c": pd.Categorical(rng.choice(["a", "b", "c"], 200))}
    )
    frame.loc[::5, "x"] = np.nan
    y = (frame["c"] == "a") ^ (frame["x"].fillna(0) > 0)
    fitted = getattr(ensemble, kind)(max_iter=10, random_state=0).fit(frame, y)
    path = tmp_path / "model.skops"
    save_skops(fitted, path)
    assert "functools.partial" in skops.io.get_untrusted_types(file=path)
    loaded = load_skops(path)
    assert answers(loaded, frame).keys() == answers(fitted, frame).keys()
    for method, value in answers(fitted, frame).items():
        np.testing.assert_array_equal(answers(loaded, frame)[method], value)
