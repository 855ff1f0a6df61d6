"""The methods beyond prediction: ``score_samples`` (an outlier detector), ``transform`` (KMeans,
PCA, a Pipeline ending in a transformer, columns named by ``get_feature_names_out``) and
``predict_log_proba``, each chosen with ``modelrepo new --method`` or the ``method`` setting and
answered as the estimator itself answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import requests
from conftest import run_cli
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.core.model import Request

X, Y = load_iris(return_X_y=True)
ROWS = X[[0, 55, 120, 149]]
#: each estimator, the --method it is made with (None: the default), and the outputs expected
CASES: dict[str, tuple[Any, str | None, list[str]]] = {
    "isolation-forest": (IsolationForest(random_state=0), "score_samples,predict", ["score"]),
    "kmeans": (KMeans(n_clusters=3, n_init=3, random_state=0), "transform", []),
    "pca": (PCA(n_components=2), None, ["pca0", "pca1"]),
    "scaled-pca": (make_pipeline(StandardScaler(), PCA(n_components=2)), None, ["pca0", "pca1"]),
    "log-proba": (LogisticRegression(max_iter=500), "predict_log_proba", ["0", "1", "2"]),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, tuple[Any, Path]]:
    """Each estimator fitted on iris, saved with joblib and made a model directory."""
    root = tmp_path_factory.mktemp("methods")
    made = {}
    for name, (estimator, method, _) in CASES.items():
        fitted = estimator.fit(X, Y)
        joblib.dump(fitted, root / f"{name}.joblib")
        flags = ["--method", method] if method else []
        result = run_cli("new", root / name, "-f", "sklearn", "-a", root / f"{name}.joblib",
                         *flags, "--no-check")  # fmt: skip
        assert result.exit_code == 0, result.output + result.stderr
        made[name] = (fitted, root / name)
    return made


@pytest.mark.parametrize("name", CASES)
def test_each_method_is_recorded_and_answered_as_the_estimator_does(made, name):
    fitted, model_dir = made[name]
    _, method, first_names = CASES[name]
    manifest = Manifest.read(model_dir)
    methods = method.split(",") if method else ["transform"]
    assert manifest.output_names == methods
    first = manifest.outputs[0]
    if first_names:
        assert first.names == first_names
    model = SklearnModel(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    answers = model.infer(Request({"input": ROWS.tolist()}))
    for output in methods:
        wanted = np.asarray(getattr(fitted, output)(ROWS)).reshape(len(ROWS), -1)
        np.testing.assert_allclose(answers[output], wanted, rtol=1e-12)
        assert manifest.outputs[methods.index(output)].shape == [-1, wanted.shape[1]]


def test_kmeans_transform_is_a_distance_per_cluster(made):
    _, model_dir = made["kmeans"]
    (output,) = Manifest.read(model_dir).outputs
    assert output.names == ["kmeans0", "kmeans1", "kmeans2"]


@pytest.mark.parametrize(
    ("name", "method", "names"),
    [("kmeans", "predict", ["prediction"]), ("log-proba", "predict_proba", ["0", "1", "2"])],
)
def test_the_method_setting_describes_an_unrecorded_method_from_the_estimator(
    made, name, method, names
):
    fitted, model_dir = made[name]
    assert method not in Manifest.read(model_dir).output_names
    model = SklearnModel(model_dir=model_dir, method=method)
    model.load()
    assert model.ready, model.problem
    (output,) = model.outputs
    assert (output.name, output.names) == (method, names)
    answers = model.infer(Request({"input": ROWS.tolist()}))[method]
    wanted = np.asarray(getattr(fitted, method)(ROWS)).reshape(len(ROWS), -1)
    np.testing.assert_allclose(answers, wanted, rtol=1e-12)


def test_a_transformer_without_the_method_is_refused_by_name(made, tmp_path):
    result = run_cli("new", tmp_path / "m", "-f", "sklearn", "-a",
                     made["pca"][1].parent / "pca.joblib", "--method", "predict")  # fmt: skip
    assert result.exit_code == 2
    assert "PCA cannot serve --method predict" in result.stderr
    assert "transform" in result.stderr


@pytest.mark.e2e
def test_the_method_setting_serves_score_samples(made, tmp_path):
    """A directory made for ``predict`` answers ``score_samples`` when the deployment says so."""
    fitted = IsolationForest(random_state=0).fit(X)
    joblib.dump(fitted, tmp_path / "forest.joblib")
    result = run_cli("new", tmp_path / "forest", "-f", "sklearn", "-a",
                     tmp_path / "forest.joblib", "--no-check")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert Manifest.read(tmp_path / "forest").output_names == ["predict"]
    env = {"MODELREPO_METHOD": "score_samples"}
    with Microservice(tmp_path / "forest", env=env, log_path=tmp_path / "log") as service:
        answer = requests.post(
            service.url + "/api/v1.0/predictions",
            json={"data": {"ndarray": ROWS.tolist()}},
            timeout=60,
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    assert body["names"] == ["score"]
    np.testing.assert_allclose(
        body["ndarray"], fitted.score_samples(ROWS).reshape(-1, 1), rtol=1e-12
    )
