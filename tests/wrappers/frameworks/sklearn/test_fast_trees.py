"""The numpy tree evaluator gives scikit-learn's outputs bit for bit, or steps aside."""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import pytest
from conftest import MODELS_DIR, copy_model, golden_rows, rehash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import datasets
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor

from wrappers import Manifest, SklearnModel
from wrappers.core.formats import SKOPS_FILE, load_skops, save_skops
from wrappers.core.manifest import golden_pairs
from wrappers.frameworks.sklearn import fast_trees
from wrappers.frameworks.sklearn.fast_trees import (
    FastPredictor,
    agrees_with_estimator,
    compile_estimator,
)

ROWS = 2_000
IRIS_DIR = MODELS_DIR / "sklearn-iris"

CLASSIFIERS = {
    "decision-tree": lambda: DecisionTreeClassifier(random_state=0),
    "random-forest": lambda: RandomForestClassifier(n_estimators=30, random_state=0),
    "random-forest-balanced": lambda: RandomForestClassifier(
        n_estimators=30, class_weight="balanced_subsample", min_samples_leaf=3, random_state=0
    ),
    "extra-trees": lambda: ExtraTreesClassifier(
        n_estimators=30, class_weight="balanced", random_state=0
    ),
    "gradient-boosting": lambda: GradientBoostingClassifier(
        n_estimators=40, subsample=0.8, random_state=0
    ),
}
REGRESSORS = {
    "decision-tree": lambda: DecisionTreeRegressor(random_state=0),
    "extra-tree": lambda: ExtraTreeRegressor(random_state=0),
    "random-forest": lambda: RandomForestRegressor(n_estimators=30, random_state=0),
    "extra-trees": lambda: ExtraTreesRegressor(n_estimators=30, max_depth=12, random_state=0),
    "gradient-boosting": lambda: GradientBoostingRegressor(n_estimators=40, random_state=0),
}


def iris_strings() -> tuple[np.ndarray, np.ndarray]:
    iris = datasets.load_iris()
    return iris.data, iris.target_names[iris.target]


def synthetic_classes() -> tuple[np.ndarray, np.ndarray]:
    return datasets.make_classification(
        n_samples=600, n_features=12, n_informative=6, n_classes=5, random_state=0
    )


def synthetic_values() -> tuple[np.ndarray, np.ndarray]:
    return datasets.make_regression(n_samples=600, n_features=8, noise=10.0, random_state=0)


CLASSIFICATION_DATA = {
    "iris-strings": iris_strings,
    "wine": lambda: datasets.load_wine(return_X_y=True),
    "breast-cancer": lambda: datasets.load_breast_cancer(return_X_y=True),
    "make-classification": synthetic_classes,
}
REGRESSION_DATA = {
    "diabetes": lambda: datasets.load_diabetes(return_X_y=True),
    "make-regression": synthetic_values,
}


@functools.cache
def fitted(kind: str, model: str, data: str):
    """A model fitted on a data set, cached across the tests that share it."""
    makers, sets = (
        (CLASSIFIERS, CLASSIFICATION_DATA) if kind == "c" else (REGRESSORS, REGRESSION_DATA)
    )
    X, y = sets[data]()
    return makers[model]().fit(X, y), X


def rows_like(predictor: FastPredictor, X: np.ndarray, rows: int = ROWS) -> np.ndarray:
    """Rows like the training data, plus rows sitting exactly at and next to thresholds."""
    rng = np.random.default_rng(1)
    at_cuts = fast_trees.probe_rows(predictor, rows // 4, seed=2)
    near = X[rng.integers(0, len(X), rows - len(at_cuts))]
    near = near + rng.normal(0.0, 0.3, near.shape) * X.std(axis=0)
    return np.vstack([near, at_cuts])


def assert_identical(predictor: FastPredictor, X, fast_only: bool = True) -> None:
    """Equal outputs and dtypes; by default every row is evaluated by the fast path itself."""
    if fast_only:
        predictor = predictor.unlimited()
    for method in sorted(predictor.methods):
        expected = getattr(predictor.estimator, method)(X)
        actual = getattr(predictor, method)(X)
        assert actual.dtype == expected.dtype, method
        assert actual.shape == expected.shape, method
        assert np.array_equal(actual, expected), f"{method}: {np.sum(actual != expected)} differ"


def assert_identical_in_every_dtype(predictor: FastPredictor, X: np.ndarray) -> None:
    assert_identical(predictor, X)
    assert_identical(predictor, X.astype(np.float32))
    finite = np.nan_to_num(X)  # threshold rows hold a few NaN where the model accepts them
    assert_identical(predictor, np.rint(finite).astype(np.int64))
    assert_identical(predictor, np.rint(finite * 10).astype(np.int32))


@pytest.mark.parametrize("data", sorted(CLASSIFICATION_DATA))
@pytest.mark.parametrize("model", sorted(CLASSIFIERS))
def test_classifiers_equal_scikit_learn(model, data):
    estimator, X = fitted("c", model, data)
    predictor = compile_estimator(estimator)
    assert predictor is not None
    assert predictor.methods == {"predict", "predict_proba"}
    assert_identical_in_every_dtype(predictor, rows_like(predictor, X))


@pytest.mark.parametrize("data", sorted(REGRESSION_DATA))
@pytest.mark.parametrize("model", sorted(REGRESSORS))
def test_regressors_equal_scikit_learn(model, data):
    estimator, X = fitted("r", model, data)
    predictor = compile_estimator(estimator)
    assert predictor is not None
    assert predictor.methods == {"predict"}
    assert_identical_in_every_dtype(predictor, rows_like(predictor, X))


@functools.cache
def committed_iris() -> FastPredictor:
    predictor = compile_estimator(load_skops(IRIS_DIR / SKOPS_FILE))
    assert predictor is not None
    return predictor


@pytest.mark.parametrize(
    ("estimator", "data"),
    [
        (GradientBoostingClassifier(loss="exponential", n_estimators=40), "breast-cancer"),
        (GradientBoostingClassifier(init="zero", n_estimators=40), "iris-strings"),
        (GradientBoostingClassifier(n_estimators=300, n_iter_no_change=3), "wine"),
        (GradientBoostingRegressor(loss="absolute_error", n_estimators=40), "diabetes"),
        (GradientBoostingRegressor(loss="huber", n_estimators=40), "make-regression"),
        (GradientBoostingRegressor(loss="quantile", alpha=0.8, n_estimators=40), "diabetes"),
    ],
    ids=["exponential", "init-zero", "early-stopping", "absolute", "huber", "quantile"],
)
def test_gradient_boosting_variants_equal_scikit_learn(estimator, data):
    X, y = {**CLASSIFICATION_DATA, **REGRESSION_DATA}[data]()
    predictor = compile_estimator(estimator.set_params(random_state=0).fit(X, y))
    assert predictor is not None
    assert_identical_in_every_dtype(predictor, rows_like(predictor, X))


def test_committed_iris_model_equals_scikit_learn():
    predictor = committed_iris()
    assert predictor.n_trees == 100
    assert_identical_in_every_dtype(predictor, rows_like(predictor, datasets.load_iris().data))


def test_ties_pick_the_first_class_as_scikit_learn_does():
    X = np.array([[0.0], [0.0], [1.0], [1.0], [2.0]])
    estimator = RandomForestClassifier(n_estimators=3, bootstrap=False, random_state=0)
    predictor = compile_estimator(estimator.fit(X, ["b", "a", "b", "b", "a"]))
    tied = np.array([[0.0]])
    assert predictor.predict_proba(tied).tolist() == [[0.5, 0.5]]
    assert predictor.predict(tied).tolist() == ["a"]
    assert_identical(predictor, np.linspace(-1, 3, 81)[:, None])


def test_boosting_ties_at_zero_pick_the_second_class_as_scikit_learn_does():
    X = np.array([[0.0], [0.0], [1.0], [1.0]])
    estimator = GradientBoostingClassifier(init="zero", n_estimators=3)
    predictor = compile_estimator(estimator.fit(X, ["a", "b", "a", "b"]))
    assert predictor.predict_proba(X).tolist() == [[0.5, 0.5]] * 4
    assert predictor.predict(X).tolist() == ["b"] * 4
    assert_identical(predictor, np.linspace(-1, 2, 31)[:, None])


@pytest.mark.parametrize(
    ("kind", "model", "data"),
    [
        ("c", "random-forest", "wine"),
        ("c", "gradient-boosting", "make-classification"),
        ("r", "extra-trees", "diabetes"),
    ],
)
def test_batches_above_max_rows_go_to_scikit_learn(kind, model, data):
    estimator, X = fitted(kind, model, data)
    predictor = compile_estimator(estimator)
    limit = predictor.max_rows
    assert 1 <= limit < ROWS
    rows = rows_like(predictor, X)
    assert predictor.handles(rows[:limit])
    assert not predictor.handles(rows[: limit + 1])
    assert_identical(predictor, rows, fast_only=False)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_inputs_it_does_not_handle_get_scikit_learns_answer_or_error():
    predictor = committed_iris()
    rows = datasets.load_iris().data[:5]
    assert_identical(predictor, rows.tolist())
    assert_identical(predictor, np.asfortranarray(rows))
    assert_identical(predictor, rows[:, [0, 1, 2, 3, 0]][:, :4])
    for bad in (rows[:, :3], rows[0], np.full((1, 4), np.inf), np.full((1, 4), 1e39)):
        with pytest.raises(ValueError) as expected:
            predictor.estimator.predict_proba(bad)
        with pytest.raises(ValueError) as actual:
            predictor.predict_proba(bad)
        assert str(actual.value) == str(expected.value)


@pytest.fixture(scope="module")
def forest_with_missing_values() -> FastPredictor:
    X, y = synthetic_classes()
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.15] = np.nan
    predictor = compile_estimator(ExtraTreesClassifier(n_estimators=20, random_state=0).fit(X, y))
    assert predictor is not None
    assert predictor.missing_left.any() and predictor.accepts_nan
    return predictor


def test_missing_values_follow_each_nodes_missing_branch(forest_with_missing_values):
    predictor = forest_with_missing_values
    X = rows_like(predictor, synthetic_classes()[0])
    X[np.random.default_rng(3).random(X.shape) < 0.2] = np.nan
    assert_identical(predictor, X)
    assert_identical(predictor, np.full((3, X.shape[1]), np.nan))


def threshold_values(predictor: FastPredictor, dtype: type = np.float64):
    """Hypothesis values: the trees' cuts and their float64/float32 neighbours, or any float."""
    cuts = np.concatenate([predictor.cuts(f) for f in range(predictor.n_features)])
    nearest = cuts.astype(np.float32)
    near = [cuts, np.nextafter(cuts, np.inf), np.nextafter(cuts, -np.inf), nearest]
    near += [np.nextafter(nearest, np.float32(np.inf)), np.nextafter(nearest, np.float32(-1e9))]
    values = np.unique(np.concatenate(near))
    if dtype is np.float32:  # only values the array can hold exactly
        values = values[values.astype(np.float32) == values]
    width = 32 if dtype is np.float32 else 64
    return st.one_of(
        st.sampled_from(values.tolist()), st.floats(-1e6, 1e6, allow_nan=False, width=width)
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_inputs_equal_scikit_learn(data):
    predictor = committed_iris()
    dtype = data.draw(st.sampled_from([np.float64, np.float32]))
    shape = st.tuples(st.integers(1, 20), st.just(4))
    rows = data.draw(arrays(dtype, shape, elements=threshold_values(predictor, dtype)))
    assert_identical(predictor, rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_inputs_with_nan_equal_scikit_learn(data, forest_with_missing_values):
    predictor = forest_with_missing_values
    elements = st.one_of(threshold_values(predictor), st.just(float("nan")))
    shape = st.tuples(st.integers(1, 10), st.just(predictor.n_features))
    assert_identical(predictor, data.draw(arrays(np.float64, shape, elements=elements)))


class CustomForest(RandomForestClassifier):
    """A subclass may change predict_proba, so it is never taken over."""


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=500).fit(*iris_strings()),
        HistGradientBoostingClassifier(max_iter=5).fit(*iris_strings()),
        GradientBoostingClassifier(init=DummyClassifier(), n_estimators=5).fit(*iris_strings()),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(
            iris_strings()[0], np.column_stack([iris_strings()[1]] * 2)
        ),
        CustomForest(n_estimators=3, random_state=0).fit(*iris_strings()),
        RandomForestClassifier(n_estimators=3),
    ],
    ids=[
        "logistic-regression",
        "hist-gradient-boosting",
        "boosting-with-custom-init",
        "multi-output-forest",
        "subclass",
        "unfitted",
    ],
)
def test_unsupported_estimators_get_none(estimator):
    assert compile_estimator(estimator) is None


def test_a_predictor_that_differs_is_detected():
    predictor = committed_iris()
    rows = fast_trees.probe_rows(predictor)
    assert agrees_with_estimator(predictor, rows)
    nudged = predictor.values.copy()
    nudged[nudged > 0] = np.nextafter(nudged[nudged > 0], 2.0)
    assert not agrees_with_estimator(dataclasses.replace(predictor, values=nudged), rows)


# ---- inside the served model -------------------------------------------------------------


def test_served_iris_model_uses_the_fast_path(caplog):
    with caplog.at_level(logging.INFO, logger="wrappers"):
        model = SklearnModel(model_dir=IRIS_DIR)
        model.load()
    assert model.ready, model.problem
    assert model.fast_path is not None
    assert "sklearn-iris predicts with the fast tree path" in caplog.text
    rows = np.nan_to_num(rows_like(model.fast_path, datasets.load_iris().data))
    rows = rows[-model.fast_path.max_rows :]  # threshold rows included
    assert model.fast_path.handles(rows)
    assert np.array_equal(model.predict(rows), model.estimator.predict_proba(rows))


def test_fast_path_can_be_turned_off(monkeypatch):
    parameter = SklearnModel(model_dir=IRIS_DIR, fast_trees=False)
    monkeypatch.setenv("MODELREPO_FAST_TREES", "false")
    environment = SklearnModel(model_dir=IRIS_DIR)
    rows = datasets.load_iris().data
    for model in (parameter, environment):
        model.load()
        assert model.ready and model.fast_path is None
        assert np.array_equal(model.predict(rows), committed_iris().predict_proba(rows))


def test_unsupported_model_is_served_by_scikit_learn(tmp_path, caplog):
    model_dir = copy_model("sklearn-iris", tmp_path)
    X, y = iris_strings()
    estimator = LogisticRegression(max_iter=500).fit(X, y)
    save_skops(estimator, model_dir / SKOPS_FILE)
    rehash(model_dir)
    manifest = Manifest.read(model_dir)
    sample = np.array(golden_rows(manifest, -1))
    manifest.golden = golden_pairs(
        manifest.inputs,
        manifest.outputs,
        {"input": sample},
        {"predict_proba": estimator.predict_proba(sample)},
    )
    manifest.write(model_dir)

    with caplog.at_level(logging.INFO, logger="wrappers"):
        model = SklearnModel(model_dir=model_dir)
        model.load()
    assert model.ready, model.problem
    assert model.fast_path is None
    assert "sklearn-iris predicts with scikit-learn" in caplog.text
    assert np.array_equal(model.predict(X), estimator.predict_proba(X))
