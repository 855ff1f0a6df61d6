"""XGBoost's and LightGBM's scikit-learn estimators, alone or in a Pipeline, through
``modelrepo new -f sklearn``: stored as skops against the allowlist, pinned in requirements.txt,
and served with the estimator's own answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from conftest import run_cli

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.core.formats import BOOSTER_ESTIMATOR_TYPES, SKOPS_FILE, sklearn_allowlist


def xgb_classifier() -> tuple[Any, pd.DataFrame]:
    import xgboost
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = xgboost.XGBClassifier(n_estimators=15, max_depth=3, random_state=0, n_jobs=1)
    return model.fit(features, target), features


def xgb_regressor_pipeline() -> tuple[Any, pd.DataFrame]:
    import xgboost
    from sklearn.datasets import load_diabetes
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    regressor = xgboost.XGBRegressor(n_estimators=15, random_state=0, n_jobs=1)
    model = Pipeline([("scale", StandardScaler()), ("xgb", regressor)])
    return model.fit(features, target), features


def lgbm_classifier_pipeline() -> tuple[Any, pd.DataFrame]:
    import lightgbm
    from sklearn.datasets import load_wine
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = load_wine(return_X_y=True, as_frame=True)
    classifier = lightgbm.LGBMClassifier(n_estimators=15, random_state=0, n_jobs=1, verbose=-1)
    model = Pipeline([("scale", StandardScaler()), ("lgbm", classifier)])
    return model.fit(features, target), features


def lgbm_regressor() -> tuple[Any, pd.DataFrame]:
    import lightgbm
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    model = lightgbm.LGBMRegressor(n_estimators=15, random_state=0, n_jobs=1, verbose=-1)
    return model.fit(features, target), features


#: each estimator, and the package its requirements.txt must pin
ESTIMATORS: dict[str, tuple[Callable[[], tuple[Any, pd.DataFrame]], str]] = {
    "xgb-classifier": (xgb_classifier, "xgboost-cpu"),
    "xgb-regressor-pipeline": (xgb_regressor_pipeline, "xgboost-cpu"),
    "lgbm-classifier-pipeline": (lgbm_classifier_pipeline, "lightgbm"),
    "lgbm-regressor": (lgbm_regressor, "lightgbm"),
}


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def imported(request, tmp_path_factory) -> tuple[str, Any, pd.DataFrame, Path]:
    """An estimator saved with joblib as a user would, and the directory ``new`` made of it."""
    name = request.param
    estimator, features = ESTIMATORS[name][0]()
    work = tmp_path_factory.mktemp(name)
    joblib.dump(estimator, work / "model.joblib")
    features.head(6).to_csv(work / "rows.csv", index=False)
    model_dir = work / name
    artifact, sample = work / "model.joblib", work / "rows.csv"
    result = run_cli("new", model_dir, "-f", "sklearn", "-a", artifact, "--sample", sample)
    assert result.exit_code == 0, result.output + result.stderr
    return name, estimator, features, model_dir


def method_of(estimator: Any) -> str:
    return "predict_proba" if hasattr(estimator, "predict_proba") else "predict"


def test_the_skops_file_holds_only_allowlisted_data_types(imported):
    import skops.io

    _, _, _, model_dir = imported
    untrusted = skops.io.get_untrusted_types(file=model_dir / SKOPS_FILE)
    assert untrusted, "the booster estimators are not among skops' own trusted types"
    assert set(untrusted) <= set(BOOSTER_ESTIMATOR_TYPES)
    assert set(BOOSTER_ESTIMATOR_TYPES) <= set(sklearn_allowlist())


def test_requirements_pin_the_boosters_library(imported):
    name, _, _, model_dir = imported
    distribution = ESTIMATORS[name][1]
    manifest = Manifest.read(model_dir)
    (pinned,) = [r for r in manifest.requirements if r.startswith(f"{distribution}==")]
    lines = (model_dir / "requirements.txt").read_text().splitlines()
    assert pinned in lines
    assert lines[0].startswith("scikit-learn==")


def test_the_served_model_answers_as_the_estimator_in_process(imported):
    _, estimator, features, model_dir = imported
    model = SklearnModel(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    rows = features.iloc[[10, 50, 100, 120]]
    method = method_of(estimator)
    expected = np.asarray(getattr(estimator, method)(rows)).reshape(len(rows), -1)
    np.testing.assert_allclose(model.predict(rows.to_numpy(), list(rows.columns)), expected)


@pytest.mark.e2e
def test_the_microservice_answers_as_the_estimator(imported, tmp_path):
    _, estimator, features, model_dir = imported
    rows = features.iloc[[7, 77, 107]]
    body = {"data": {"names": list(rows.columns), "ndarray": rows.to_numpy().tolist()}}
    with Microservice(model_dir, log_path=tmp_path / "served.log") as service:
        answer = requests.post(service.url + "/api/v1.0/predictions", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    expected = np.asarray(getattr(estimator, method_of(estimator))(rows)).reshape(len(rows), -1)
    np.testing.assert_allclose(answer.json()["data"]["ndarray"], expected, rtol=1e-6)


def squared_error(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A custom objective: a Python function, which a model may not carry without trust."""
    return predictions - labels, np.ones_like(predictions)


def test_a_custom_objective_function_is_refused(tmp_path):
    import xgboost
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True)
    model = xgboost.XGBRegressor(n_estimators=5, objective=squared_error, n_jobs=1)
    joblib.dump(model.fit(features, target), tmp_path / "model.joblib")
    result = run_cli("new", tmp_path / "custom", "-f", "sklearn", "-a", tmp_path / "model.joblib")
    assert result.exit_code != 0
    assert "squared_error" in result.stderr, result.stderr
    assert not (tmp_path / "custom").exists()


def wine_with_grade() -> tuple[pd.DataFrame, np.ndarray]:
    """Five wine measurements and a pandas category column the boosters split on."""
    from sklearn.datasets import load_wine

    features, target = load_wine(return_X_y=True, as_frame=True)
    frame = features.iloc[:, :5].copy()
    grade = np.where(features["color_intensity"] > 5, "deep", "pale")
    frame["grade"] = pd.Categorical(grade, categories=["pale", "deep"])
    return frame, target.to_numpy()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_category_column_is_a_category_of_the_table(tmp_path, library):
    from wrappers.core.model import Request
    from wrappers.errors import InvalidInput

    frame, target = wine_with_grade()
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=10, enable_categorical=True, n_jobs=1)
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=10, n_jobs=1, verbose=-1)
    model.fit(frame, target)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.iloc[::30].to_csv(tmp_path / "rows.csv", index=False)
    model_dir = tmp_path / "made"
    sample = tmp_path / "rows.csv"
    result = run_cli(
        "new", model_dir, "-f", "sklearn", "-a", tmp_path / "model.joblib", "--sample", sample
    )
    assert result.exit_code == 0, result.output + result.stderr

    (table,) = Manifest.read(model_dir).inputs
    grade = next(c for c in table.columns if c.name == "grade")
    assert (grade.type, grade.categories) == ("category", ["pale", "deep"])
    served = SklearnModel(model_dir=model_dir)
    served.load()
    assert served.ready, served.problem
    rows = frame.iloc[[4, 60, 130, 170]]
    records = rows.astype(object).to_dict("records")
    (answer,) = served.infer(Request({"table": records})).values()
    np.testing.assert_allclose(answer, model.predict_proba(rows))
    with pytest.raises(InvalidInput, match="'grade'"):
        served.infer(Request({"table": [{**records[0], "grade": "golden"}]}))
