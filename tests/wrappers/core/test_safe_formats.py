"""Artifacts that cannot run code: a pickle is refused before it is read, even when its
manifest was rewritten to match; skops loads only allowlisted types; each safe format that
``modelrepo new`` writes answers exactly as the user's own model did."""

from __future__ import annotations

import json
import pathlib

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
import torch
from conftest import MODELS_DIR, copy_model, rehash, run_cli
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from wrappers import Manifest, SklearnModel, TorchModel
from wrappers.core.formats import SKOPS_FILE, load_skops, save_skops, sklearn_allowlist
from wrappers.errors import UnsafeArtifact


class Payload:
    """What an attacker pickles: unpickling it calls ``Path.touch`` on the marker."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


class Opaque:
    """A type that nothing trusts (skops stores its state, but not what it is)."""

    def __init__(self) -> None:
        self.value = 1


def with_artifact(model_dir: pathlib.Path, name: str) -> None:
    """Points the manifest at ``name`` and re-hashes it, as an attacker who can write the
    directory would."""
    manifest = Manifest.read(model_dir)
    for artifact in manifest.artifacts[:1]:
        artifact.path = name
    if manifest.framework == "torch":
        manifest.options["checkpoint"] = name
    manifest.write(model_dir)
    rehash(model_dir)


def test_a_malicious_joblib_with_a_rewritten_manifest_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    model_dir = copy_model("sklearn-iris", tmp_path)
    (model_dir / SKOPS_FILE).unlink()
    joblib.dump(Payload(marker), model_dir / "model.joblib")
    with_artifact(model_dir, "model.joblib")
    model = SklearnModel(model_dir=model_dir)
    model._verify_artifacts()  # the hash matches: it guards against corruption, not attackers
    with pytest.raises(UnsafeArtifact, match="allow_pickle"):
        model.load()
    assert not marker.exists()
    # the same file does run its payload once a deployment allows pickles: the test is real
    with pytest.raises(Exception):  # noqa: B017 (after the payload ran, it is no estimator)
        SklearnModel(model_dir=model_dir, allow_pickle=True).load()
    assert marker.exists()


def test_a_malicious_joblib_without_a_manifest_is_refused_too(tmp_path):
    marker = tmp_path / "pwned"
    model_dir = tmp_path / "bare"
    model_dir.mkdir()
    joblib.dump(Payload(marker), model_dir / "model.joblib")
    with pytest.raises(UnsafeArtifact, match="allow_pickle"):
        SklearnModel(model_dir=model_dir, allow_unverified=True)
    assert not marker.exists()


def test_a_malicious_torch_checkpoint_with_a_rewritten_manifest_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    model_dir = copy_model("torch-classifier", tmp_path)
    torch.save({"model_state_dict": Payload(marker)}, model_dir / "model.pt")
    with_artifact(model_dir, "model.pt")
    with pytest.raises(UnsafeArtifact, match="allow_pickle"):
        TorchModel(model_dir=model_dir).load()
    assert not marker.exists()


def test_skops_refuses_a_type_off_the_allowlist_even_though_the_file_names_it(tmp_path):
    model_dir = copy_model("sklearn-iris", tmp_path)
    estimator = load_skops(model_dir / SKOPS_FILE)
    estimator.opaque = Opaque()
    save_skops(estimator, model_dir / SKOPS_FILE)
    rehash(model_dir)
    untrusted = skops.io.get_untrusted_types(file=model_dir / SKOPS_FILE)
    assert f"{__name__}.Opaque" in untrusted  # the file says what it holds; that is no trust
    with pytest.raises(UnsafeArtifact, match="Opaque"):
        SklearnModel(model_dir=model_dir).load()
    model = SklearnModel(model_dir=model_dir, trusted_types=f"{__name__}.Opaque")
    model.load()  # a deployment can extend the allowlist by name
    assert model.ready, model.problem


def test_the_allowlist_is_our_own_list():
    allowlist = sklearn_allowlist()
    assert "sklearn.ensemble._forest.RandomForestClassifier" in allowlist
    assert "sklearn.tree._tree.Tree" in allowlist
    assert not any(name.startswith(("builtins.", "os.", "subprocess.")) for name in allowlist)


@pytest.mark.parametrize("name", ["sklearn-iris", "loan-pipeline", "review-sentiment"])
def test_committed_scikit_learn_models_are_skops(name):
    manifest = Manifest.read(MODELS_DIR / name)
    assert [a.path for a in manifest.artifacts] == [SKOPS_FILE]
    assert not (MODELS_DIR / name / "model.joblib").exists()


@pytest.mark.parametrize("name", ["torch-classifier", "torch-digits-cnn"])
def test_committed_torch_models_are_safetensors(name):
    manifest = Manifest.read(MODELS_DIR / name)
    assert manifest.options["checkpoint"] == "model.safetensors"
    assert not (MODELS_DIR / name / "model.pt").exists()


# ---- round trips: the user's model against the served artifact -----------------------------


def scikit_learn_models():
    """A forest (the fast tree path), a ColumnTransformer over a DataFrame, a text pipeline."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    frame = pd.DataFrame(
        {"age": rng.integers(20, 70, 120), "city": rng.choice(["a", "b", "c"], 120)}
    )
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["age"]), ("cat", OneHotEncoder(), ["city"])]
    )
    table = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    texts = [f"{'good' if v else 'bad'} item number {i}" for i, v in enumerate(y)]
    text = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, y)
    return {"forest": (forest, X[:8]), "table": (table, frame[:8]), "text": (text, texts[:8])}


@pytest.mark.parametrize("kind", ["forest", "table", "text"])
def test_scikit_learn_round_trips_through_skops_to_identical_outputs(tmp_path, kind):
    estimator, rows = scikit_learn_models()[kind]
    joblib.dump(estimator, tmp_path / "user.joblib")
    if kind == "forest":
        args = ["--n-features", "4"]
    elif kind == "table":
        rows.to_csv(tmp_path / "rows.csv", index=False)
        args = ["--sample", tmp_path / "rows.csv"]
    else:
        (tmp_path / "texts.json").write_text(json.dumps(rows))
        args = ["--sample", tmp_path / "texts.json"]
    args = ["-a", tmp_path / "user.joblib", *args]
    result = run_cli("new", tmp_path / "served", "-f", "sklearn", *args)
    assert result.exit_code == 0, result.output + result.stderr
    assert not (tmp_path / "served" / "model.joblib").exists()
    for fast in (True, False):
        model = SklearnModel(model_dir=tmp_path / "served", fast_trees=fast)
        model.load()
        assert model.ready, model.problem
        (spec,) = model.manifest.inputs
        value = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
        served = model.predict({spec.name: value})
        np.testing.assert_array_equal(served, estimator.predict_proba(rows))


def test_torch_round_trips_through_safetensors_to_identical_outputs(user_models, scaffolded):
    user = user_models["torch"]
    model = TorchModel(model_dir=scaffolded["torch"])
    model.load()
    assert (scaffolded["torch"] / "model.safetensors").is_file()
    assert not (scaffolded["torch"] / "model.pt").exists()
    served = np.asarray(model.predict(user.rows), dtype=np.float32)  # float32 off the wire
    np.testing.assert_array_equal(served, user.predict(user.rows))


def test_keras_round_trips_through_a_saved_model(user_models, scaffolded):
    from wrappers import TFModel

    user = user_models["tensorflow"]
    model = TFModel(model_dir=scaffolded["tensorflow"])
    model.load()
    np.testing.assert_allclose(model.predict(user.rows), user.predict(user.rows), rtol=1e-6)


def test_keras_lambda_layers_and_h5_files_are_refused_at_scaffolding(tmp_path):
    import keras

    inputs = keras.Input(shape=(3,), name="features")
    doubled = keras.layers.Lambda(lambda x: x * 2, name="doubles")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(doubled))
    model.save(tmp_path / "lambda.keras")
    model.save(tmp_path / "legacy.h5")
    result = run_cli("new", tmp_path / "a", "-f", "tensorflow", "-a", tmp_path / "lambda.keras")
    assert result.exit_code == 2, result.output + result.stderr
    assert "Lambda" in result.stderr and not (tmp_path / "a").exists()
    result = run_cli("new", tmp_path / "b", "-f", "tensorflow", "-a", tmp_path / "legacy.h5")
    assert result.exit_code == 2, result.output + result.stderr
    assert "HDF5" in result.stderr and not (tmp_path / "b").exists()
