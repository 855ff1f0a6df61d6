"""A Pipeline that calls the user's own function: ``modelrepo new`` finds the module, asks for it
to be trusted by name, copies and hashes it, and the real microservice serves it wherever it was
started from. The user trains in their own process, so this one never imports their module
until it computes the expected answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests
from conftest import ROOT, run_cli

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.errors import ModelLoadError

FEATURES = '''"""The user's feature engineering."""

import numpy as np
from helpers import SMOOTHING


def add_ratio(X):
    X = np.asarray(X, dtype=float)
    return np.column_stack([X, X[:, 0] / (np.abs(X[:, 1]) + SMOOTHING)])
'''
#: a module of the user's that features.py imports in turn
HELPERS = """SMOOTHING = 1.0
"""
TRAIN = """
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import features

X, y = load_iris(return_X_y=True)
model = make_pipeline(FunctionTransformer(features.add_ratio), LogisticRegression(max_iter=500))
joblib.dump(model.fit(X, y), "model.joblib")
"""
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def modelrepo_new(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``modelrepo new`` as a user runs it, in its own process (no PYTHONPATH to their code)."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "modelrepo.cli", "new", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    """The user's directory: features.py, helpers.py and the pipeline pickled beside them."""
    directory = tmp_path_factory.mktemp("user")
    (directory / "features.py").write_text(FEATURES)
    (directory / "helpers.py").write_text(HELPERS)
    subprocess.run([sys.executable, "-c", TRAIN], cwd=directory, check=True, timeout=300)
    return directory


@pytest.fixture(scope="module")
def made(user, tmp_path_factory) -> Path:
    """The model directory, made from another directory with the function trusted."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    model_dir = elsewhere / "ratio-model"
    trust = "features.add_ratio"
    result = modelrepo_new(model_dir, "-f", "sklearn", "-a", user / "model.joblib",
                           "--trust", trust, cwd=elsewhere)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return model_dir


@pytest.fixture(scope="module")
def expected(user) -> np.ndarray:
    sys.path.insert(0, str(user))
    try:
        return joblib.load(user / "model.joblib").predict_proba(np.array(ROWS))
    finally:
        sys.path.remove(str(user))


def test_new_names_exactly_what_to_trust(user, tmp_path):
    result = modelrepo_new(tmp_path / "m", "-f", "sklearn", "-a", user / "model.joblib",
                           cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "features.add_ratio (your code, features.py)" in result.stderr
    assert "--trust features.add_ratio" in result.stderr
    assert not (tmp_path / "m").exists()


def test_a_module_neither_beside_the_artifact_nor_given_is_named(user, tmp_path):
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes((user / "model.joblib").read_bytes())
    result = modelrepo_new(tmp_path / "m", "-f", "sklearn", "-a", artifact, cwd=tmp_path)
    assert result.returncode == 2
    assert "imports the module 'features'" in result.stderr
    assert "--code features.py" in result.stderr
    result = modelrepo_new(tmp_path / "m", "-f", "sklearn", "-a", artifact,
                           "--code", user / "features.py", "--trust", "features.add_ratio",
                           cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "code" / "features.py").read_text() == FEATURES
    assert (tmp_path / "m" / "code" / "helpers.py").read_text() == HELPERS


def test_a_trust_the_model_does_not_need_is_refused(user, tmp_path):
    result = modelrepo_new(tmp_path / "m", "-f", "sklearn", "-a", user / "model.joblib",
                           "--trust", "features.add_ratio", "--trust", "os.system",
                           cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert "--trust os.system: the model holds no such name" in result.stderr


def test_the_manifest_records_the_code_the_trust_and_the_packages(made):
    manifest = Manifest.read(made)
    assert manifest.trusted_types == ["features.add_ratio"]
    assert [c.path for c in manifest.code] == ["code/features.py", "code/helpers.py"]
    assert (made / "code" / "features.py").read_text() == FEATURES
    assert manifest.requirements[0] == f"scikit-learn=={manifest.framework_version}"
    pinned = (made / "requirements.txt").read_text().splitlines()
    assert pinned == manifest.requirements


def test_check_requires_every_recorded_requirement_in_requirements_txt(made, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(made), str(copy)], check=True)
    assert run_cli("check", copy).exit_code == 0
    pinned = (copy / "requirements.txt").read_text().splitlines()
    (copy / "requirements.txt").write_text("\n".join(pinned[:1]) + "\n")
    result = run_cli("check", copy)
    assert result.exit_code == 1
    assert f"requirements.txt lacks {pinned[1:]}" in result.output + result.stderr


def test_changed_code_is_refused_before_it_is_imported(made, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(made), str(copy)], check=True)
    marker = tmp_path / "imported"
    with open(copy / "code" / "features.py", "a") as code:
        code.write(f"\nopen({str(marker)!r}, 'w').close()\n")
    model = SklearnModel(model_dir=copy)
    with pytest.raises(ModelLoadError, match=r"code/features\.py: sha256"):
        model.load()
    assert not marker.exists()


def test_the_recorded_trust_is_what_lets_the_server_load_it(made, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(made), str(copy)], check=True)
    manifest = Manifest.read(copy)
    manifest.trusted_types = []
    manifest.write(copy)
    with pytest.raises(ModelLoadError, match=r"features\.add_ratio"):
        SklearnModel(model_dir=copy).load()


@pytest.mark.e2e
def test_the_image_build_copies_installs_and_checks_it(made, tmp_path):
    """s2i's assemble (outside an image, as tests/s2i runs it): the copy in the image's
    directory loads with its code and its recorded trust, and replays its golden pairs."""
    app = tmp_path / "microservice"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "MODELREPO_SOURCE_DIR": str(made),
        "MODELREPO_APP_DIR": str(app),
        "MODELREPO_CONSTRAINTS": str(ROOT / "constraints.txt"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    built = subprocess.run([ROOT / "s2i" / "bin" / "assemble"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "PASSED" in built.stdout
    assert (app / "code" / "features.py").read_text() == FEATURES


@pytest.mark.e2e
@pytest.mark.parametrize("started_in", ["the model directory", "another directory"])
def test_served_answers_equal_the_pipeline(made, expected, tmp_path, started_in):
    if started_in == "the model directory":
        service = Microservice(made, log_path=tmp_path / "log")
    else:
        service = Microservice(
            made,
            user_class="wrappers.SklearnModel",
            cwd=tmp_path,
            env={"MODELREPO_MODEL_DIR": str(made)},
            log_path=tmp_path / "log",
        )
    with service:
        answer = requests.post(
            service.url + "/api/v1.0/predictions", json={"data": {"ndarray": ROWS}}, timeout=30
        )
    assert answer.status_code == 200, answer.text + (tmp_path / "log").read_text()
    np.testing.assert_allclose(answer.json()["data"]["ndarray"], expected, rtol=1e-12)
    assert json.loads((made / "manifest.json").read_text())["trusted_types"]
