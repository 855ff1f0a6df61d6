"""XGBoost and LightGBM runtimes over model files trained here, one per kind of objective: the
contract read from the file (``modelrepo new`` and ``allow_unverified`` alike) and answers
equal to the library's own."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import MODELS_DIR, run_cli
from sklearn.datasets import load_diabetes, load_iris, load_wine

from wrappers import LightGBMModel, Manifest, XGBoostModel
from wrappers.core.model import Request
from wrappers.errors import ManifestError

Trained = tuple[str, Callable[[np.ndarray], np.ndarray], list[str], list[int]]


def xgb_trained(directory: Path, objective: str, data: Callable[..., Any]) -> Trained:
    """Saves a Booster as ``model.ubj``; its library prediction, outputs and shape."""
    import xgboost

    features, target = data(return_X_y=True)
    params = {"objective": objective, "max_depth": 3, "nthread": 1, "seed": 0}
    if objective.startswith("multi:"):
        params["num_class"] = 3
    booster = xgboost.train(params, xgboost.DMatrix(features, target), num_boost_round=8)
    booster.save_model(directory / "model.ubj")
    raw = booster.inplace_predict
    if objective == "binary:logistic":
        return "model.ubj", lambda X: np.c_[1 - raw(X), raw(X)], ["predict_proba"], [-1, 2]
    if objective == "multi:softprob":
        return "model.ubj", raw, ["predict_proba"], [-1, 3]
    if objective == "multi:softmax":
        return "model.ubj", lambda X: raw(X).reshape(-1, 1), ["predict"], [-1, 1]
    return "model.ubj", lambda X: raw(X).reshape(-1, 1), ["predict"], [-1, 1]


def lgb_trained(directory: Path, objective: str, data: Callable[..., Any]) -> Trained:
    import lightgbm

    features, target = data(return_X_y=True)
    params = {"objective": objective, "num_leaves": 7, "verbose": -1, "num_threads": 1}
    if objective == "multiclass":
        params["num_class"] = 3
    booster = lightgbm.train(params, lightgbm.Dataset(features, target), num_boost_round=8)
    booster.save_model(directory / "model.txt")
    if objective == "binary":
        p = booster.predict
        return "model.txt", lambda X: np.c_[1 - p(X), p(X)], ["predict_proba"], [-1, 2]
    if objective == "multiclass":
        return "model.txt", booster.predict, ["predict_proba"], [-1, 3]
    return "model.txt", lambda X: booster.predict(X).reshape(-1, 1), ["predict"], [-1, 1]


def binary_iris(return_X_y: bool = True) -> tuple[np.ndarray, np.ndarray]:
    features, target = load_iris(return_X_y=return_X_y)
    return features, (target == 2).astype(int)


CASES = {
    "xgb binary:logistic": (XGBoostModel, xgb_trained, "binary:logistic", binary_iris),
    "xgb multi:softprob": (XGBoostModel, xgb_trained, "multi:softprob", load_wine),
    "xgb multi:softmax": (XGBoostModel, xgb_trained, "multi:softmax", load_wine),
    "xgb reg:squarederror": (XGBoostModel, xgb_trained, "reg:squarederror", load_diabetes),
    "lgb binary": (LightGBMModel, lgb_trained, "binary", binary_iris),
    "lgb multiclass": (LightGBMModel, lgb_trained, "multiclass", load_wine),
    "lgb regression": (LightGBMModel, lgb_trained, "regression", load_diabetes),
}


@pytest.mark.parametrize("case", CASES)
def test_an_unverified_model_file_answers_as_the_library(tmp_path, case):
    wrapper, train, objective, data = CASES[case]
    artifact, library, outputs, shape = train(tmp_path, objective, data)
    model = wrapper(model_dir=tmp_path, allow_unverified=True)
    assert [a.path for a in model.manifest.artifacts] == [artifact]
    assert model.manifest.output_names == outputs
    assert model.manifest.outputs[0].shape == shape
    assert model.manifest.inputs[0].allow_nan  # a booster takes a missing value anywhere
    model.load()
    assert model.ready, model.problem
    features = data(return_X_y=True)[0][::7]
    (answer,) = model.infer(Request({"input": features.tolist()})).values()
    dtype = np.float32 if wrapper is XGBoostModel else np.float64
    np.testing.assert_allclose(answer, library(features.astype(dtype)), rtol=1e-6)


def test_a_missing_value_is_answered_as_the_library_does(tmp_path):
    _, library, _, _ = lgb_trained(tmp_path, "regression", load_diabetes)
    model = LightGBMModel(model_dir=tmp_path, allow_unverified=True)
    model.load()
    rows = load_diabetes(return_X_y=True)[0][:3].copy()
    rows[1, 2] = np.nan
    (answer,) = model.infer(Request({"input": rows})).values()
    np.testing.assert_allclose(answer, library(rows))


@pytest.mark.parametrize("case", ["xgb reg:squarederror", "lgb regression"])
def test_a_json_null_is_a_missing_value(tmp_path, case):
    """JSON has no NaN: a null in a booster's matrix is the missing value the library takes."""
    wrapper, train, objective, data = CASES[case]
    _, library, _, _ = train(tmp_path, objective, data)
    model = wrapper(model_dir=tmp_path, allow_unverified=True)
    model.load()
    rows = data(return_X_y=True)[0][:3].tolist()
    rows[1][2] = None
    (answer,) = model.infer(Request({"input": rows})).values()
    expected = np.array(rows, dtype=np.float64)  # None becomes NaN
    dtype = np.float32 if wrapper is XGBoostModel else np.float64
    np.testing.assert_allclose(answer, library(expected.astype(dtype)), rtol=1e-6)
    assert np.isnan(expected[1, 2])


def test_the_method_setting_answers_the_class_index(tmp_path):
    _, library, _, _ = xgb_trained(tmp_path, "multi:softprob", load_wine)
    model = XGBoostModel(model_dir=tmp_path, allow_unverified=True, method="predict")
    model.load()
    features = load_wine(return_X_y=True)[0][::11]
    (answer,) = model.infer(Request({"input": features.tolist()})).values()
    expected = library(features.astype(np.float32)).argmax(axis=1).reshape(-1, 1)
    assert answer.dtype == np.int64 and np.array_equal(answer, expected)


def test_a_regressor_has_no_predict_proba(tmp_path):
    lgb_trained(tmp_path, "regression", load_diabetes)
    with pytest.raises(ManifestError, match="cannot answer predict_proba"):
        LightGBMModel(model_dir=tmp_path, allow_unverified=True, method="predict_proba")


def test_a_directory_without_a_model_file_is_refused(tmp_path):
    with pytest.raises(ManifestError, match=r"no model\.ubj or model\.json"):
        XGBoostModel(model_dir=tmp_path, allow_unverified=True)


def test_new_refuses_what_is_not_a_native_model_file(tmp_path):
    pickled = tmp_path / "model.joblib"
    pickled.write_bytes(b"\x80\x04not a model")
    result = run_cli("new", tmp_path / "x", "-f", "xgboost", "-a", pickled)
    assert result.exit_code != 0 and "--framework sklearn" in result.stderr, result.stderr
    text = tmp_path / "model.txt"
    text.write_text("this is not a LightGBM model\n")
    result = run_cli("new", tmp_path / "y", "-f", "lightgbm", "-a", text)
    assert result.exit_code != 0 and "does not load as a model file" in result.stderr


def test_the_committed_boosters_serve_their_golden_pairs_with_nthread_one():
    for name, wrapper in (
        ("xgboost-breast-cancer", XGBoostModel),
        ("lightgbm-diabetes", LightGBMModel),
    ):
        model = wrapper(model_dir=MODELS_DIR / name)
        model.load()
        assert model.ready, model.problem
        assert model.threads_for(1) == 1
        assert model.threads_for(5000) == model.budget.intra_op_threads


@pytest.mark.parametrize(
    ("name", "wrapper"),
    [("xgboost-breast-cancer", XGBoostModel), ("lightgbm-diabetes", LightGBMModel)],
)
def test_an_unverified_model_file_with_categories_serves_the_recorded_table(
    tmp_path, name, wrapper
):
    committed = Manifest.read(MODELS_DIR / name)
    artifact = committed.artifacts[0].path
    shutil.copyfile(MODELS_DIR / name / artifact, tmp_path / artifact)
    model = wrapper(model_dir=tmp_path, allow_unverified=True)
    assert model.manifest.inputs == committed.inputs
    assert model.manifest.outputs == committed.outputs
    model.load()
    for pair in committed.golden:
        (answer,) = model.infer(Request(dict(pair.input))).values()
        (expected,) = pair.output.values()
        np.testing.assert_allclose(answer, expected, rtol=1e-6)
