"""Each wrapper, called in-process on its real committed artifact."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MODELS_DIR, WRAPPER_OF, copy_model, golden_answer, golden_rows
from packaging.version import Version

from wrappers import (
    InvalidInput,
    ManifestError,
    ModelLoadError,
    ModelNotReady,
    SklearnModel,
    TorchModel,
)
from wrappers.core.manifest import Manifest


def test_outputs_equal_the_golden_pairs(loaded):
    assert loaded.ready, loaded.problem
    assert loaded.manifest.golden, "every model records golden pairs"
    for i in range(len(loaded.manifest.golden)):
        output = loaded.predict(np.array(golden_rows(loaded.manifest, i)), None)
        assert isinstance(output, np.ndarray)
        tol = loaded.manifest.tolerance
        expected = np.array(golden_answer(loaded.manifest, i))
        np.testing.assert_allclose(output, expected, rtol=tol, atol=tol)


def test_output_columns_match_class_names_and_metadata(loaded):
    output = loaded.predict(golden_rows(loaded.manifest, -1))
    assert output.ndim == 2
    assert output.shape[1] == len(loaded.class_names())
    metadata = loaded.init_metadata()
    assert metadata["name"] == loaded.manifest.name
    assert metadata["versions"] == [loaded.manifest.version]
    assert metadata["platform"].startswith(loaded.framework)
    assert metadata["inputs"][0]["schema"]["names"] == loaded.manifest.matrix.names
    assert metadata["outputs"][0]["schema"]["names"] == loaded.class_names()
    assert loaded.tags() == {"model_name": loaded.manifest.name, "model_version": "1"}


def test_metrics_report_the_last_prediction_once(loaded):
    loaded.predict(golden_rows(loaded.manifest, -1))
    metrics = {m["key"]: m for m in loaded.metrics()}
    assert metrics["modelrepo_rows_predicted"]["value"] == len(golden_rows(loaded.manifest, -1))
    assert metrics["modelrepo_model_latency_seconds"]["type"] == "TIMER"
    assert metrics["modelrepo_model_latency_seconds"]["value"] > 0
    assert loaded.metrics() == []


@pytest.mark.parametrize("bad", [[[1.0, 2.0]], [["a"] * 10], [[float("nan")] * 10], []])
def test_bad_inputs_raise_the_400_error(loaded, bad):
    with pytest.raises(InvalidInput) as caught:
        loaded.predict(np.array(bad, dtype=object) if bad else np.array(bad), None)
    assert caught.value.status_code == 400


def test_features_sent_by_name_in_another_order(loaded):
    rows = golden_rows(loaded.manifest, 0)
    names = list(reversed(loaded.manifest.matrix.names))
    reordered = np.array(rows)[:, ::-1]
    np.testing.assert_allclose(loaded.predict(reordered, names), loaded.predict(rows), rtol=1e-6)


def test_health_reports_ready(loaded):
    assert loaded.health_status()["status"] == "ready"


def test_sklearn_method_predict_returns_labels():
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris", method="predict")
    model.load()
    labels = model.predict(golden_rows(model.manifest))
    classes = model.manifest.options["classes"]
    expected = np.array(classes)[np.argmax(golden_answer(model.manifest), axis=1)]
    assert labels[:, 0].tolist() == expected.tolist()
    assert model.class_names() == ["class"]


def test_unloaded_model_answers_not_ready():
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    with pytest.raises(ModelNotReady):
        model.predict([[1, 2, 3, 4]])


@pytest.mark.parametrize("name", sorted(WRAPPER_OF))
def test_tampered_artifact_is_refused_before_loading(tmp_path, name):
    model_dir = copy_model(name, tmp_path)
    artifact = model_dir / Manifest.read(model_dir).artifacts[0].path
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        WRAPPER_OF[name](model_dir=model_dir).load()


def test_golden_mismatch_keeps_the_worker_not_ready(tmp_path):
    model_dir = copy_model("sklearn-iris", tmp_path)
    manifest = Manifest.read(model_dir)
    manifest.golden[0].output = {"predict_proba": [[0.0, 0.0, 1.0]]}
    manifest.write(model_dir)
    model = SklearnModel(model_dir=model_dir)
    model.load()
    assert not model.ready
    with pytest.raises(ModelNotReady, match="golden pair 0"):
        model.health_status()
    with pytest.raises(ModelNotReady):
        model.predict([[5.1, 3.5, 1.4, 0.2]])


def test_sklearn_minor_version_change_is_refused(tmp_path):
    model_dir = copy_model("sklearn-iris", tmp_path)
    manifest = Manifest.read(model_dir)
    manifest.framework_version = "0.24.2"
    manifest.write(model_dir)
    with pytest.raises(ModelLoadError, match=r"install scikit-learn==0\.24\.2"):
        SklearnModel(model_dir=model_dir).load()


def test_wrong_framework_directory_is_refused():
    with pytest.raises(ModelLoadError, match="holds a torch model"):
        SklearnModel(model_dir=MODELS_DIR / "torch-classifier")


def without_manifest(tmp_path, name):
    model_dir = copy_model(name, tmp_path)
    (model_dir / "manifest.json").unlink()
    return model_dir


@pytest.mark.parametrize("name", sorted(WRAPPER_OF))
def test_directory_without_manifest_is_refused_by_default(tmp_path, name):
    with pytest.raises(ManifestError, match="MODELREPO_ALLOW_UNVERIFIED=1"):
        WRAPPER_OF[name](model_dir=without_manifest(tmp_path, name))


@pytest.mark.parametrize("name", ["sklearn-iris", "tf-regressor"])
def test_unverified_directory_is_served_when_opted_in(tmp_path, monkeypatch, caplog, name):
    monkeypatch.setenv("MODELREPO_ALLOW_UNVERIFIED", "1")
    model = WRAPPER_OF[name](model_dir=without_manifest(tmp_path, name))
    model.load()
    assert model.ready and not model.verified
    assert "UNVERIFIED" in caplog.text
    assert model.init_metadata()["custom"]["verified"] == "false"
    verified = Manifest.read(MODELS_DIR / name)
    assert model.manifest.matrix.shape == verified.matrix.shape
    assert model.manifest.matrix.dtype == verified.matrix.dtype
    rows, expected = golden_rows(verified), golden_answer(verified)
    np.testing.assert_allclose(model.predict(rows), expected, rtol=1e-4, atol=1e-4)


def test_unverified_artifact_swapped_after_startup_is_refused(tmp_path):
    model_dir = without_manifest(tmp_path, "sklearn-iris")
    model = SklearnModel(model_dir=model_dir, allow_unverified=True)
    (model_dir / "model.skops").write_bytes((model_dir / "model.skops").read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        model.load()


def test_unverified_torch_directory_is_refused_even_when_opted_in(tmp_path):
    with pytest.raises(ManifestError, match="architecture and the input contract"):
        TorchModel(model_dir=without_manifest(tmp_path, "torch-classifier"), allow_unverified=True)


def test_patch_version_difference_warns_with_the_version_to_install(tmp_path, caplog):
    model_dir = copy_model("sklearn-iris", tmp_path)
    manifest = Manifest.read(model_dir)
    installed = Version(manifest.framework_version)
    manifest.framework_version = f"{installed.major}.{installed.minor}.{installed.micro + 1}"
    manifest.write(model_dir)
    model = SklearnModel(model_dir=model_dir)
    model.load()
    assert model.ready
    assert f"install scikit-learn=={manifest.framework_version}" in caplog.text


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_values_beyond_float32_are_the_clients_fault_for_a_forest():
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    with pytest.raises(InvalidInput, match="computes in float32"):
        model.predict([[1e300, 1.0, 1.0, 1.0]])
