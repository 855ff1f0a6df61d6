"""The installed `modelrepo` console script: serve with the budget's defaults, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import MODELS_DIR, run_cli

from modelrepo.local.process import Microservice
from wrappers.core.budget import cpu_count

MODELREPO = Path(sys.executable).parent / "modelrepo"


def modelrepo(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MODELREPO, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_serve_defaults_come_from_the_budget_and_flags_override_them():
    directory = MODELS_DIR / "sklearn-iris"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    defaults = subprocess.run(
        [MODELREPO, "serve", directory, "--dry-run"], capture_output=True, text=True, env=environ
    ).stdout
    assert f"GUNICORN_WORKERS={cpu_count()}" in defaults  # one worker per core
    assert f"--workers {cpu_count()} --threads 1" in defaults
    assert "MyModel --service-type MODEL --http-port 9000 --grpc-port 5000" in defaults

    from_env = modelrepo("serve", directory, "--dry-run", env={"GUNICORN_WORKERS": "3"}).stdout
    assert "--workers 3" in from_env
    flagged = modelrepo(
        "serve", directory, "--dry-run", "--workers", "4", "--http-port", "8080",
        env={"GUNICORN_WORKERS": "3", "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "5555"},
    ).stdout  # fmt: skip
    assert "--http-port 8080 --grpc-port 5555" in flagged and "--workers 4" in flagged


@pytest.mark.e2e
def test_serve_runs_the_microservice_for_a_directory(scaffolded, user_models, tmp_path):
    service = Microservice(scaffolded["torch"], log_path=tmp_path / "serve.log")
    args = [
        "serve", scaffolded["torch"], "--workers", "1",
        "--http-port", service.http_port, "--grpc-port", service.grpc_port,
        "--metrics-port", service.metrics_port, "--log-level", "warning",
    ]  # fmt: skip
    with open(service.log_path, "ab") as log:
        service.process = subprocess.Popen(
            [MODELREPO, *map(str, args)], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        service.wait_ready()
        rows = user_models["torch"].rows
        answer = requests.post(service.url + "/predict", json={"data": {"ndarray": rows.tolist()}})
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(
            answer.json()["data"]["ndarray"], user_models["torch"].predict(rows), rtol=1e-6
        )
        over_grpc = run_cli("predict", service.grpc_target, "--grpc", "--file",
                            scaffolded["torch"] / "request.json")  # fmt: skip
        assert over_grpc.exit_code == 0, over_grpc.stderr
    finally:
        service.stop()


def test_console_script_errors_have_no_traceback_and_a_reliable_exit_code(tmp_path):
    cases = [
        (["check", MODELS_DIR / "sklearn-iris"], 0, ""),
        (["check", tmp_path], 2, "holds no manifest.json"),
        (["new", tmp_path / "x", "--framework", "sklearn"], 2, "Missing option"),
        (["predict", "http://127.0.0.1:9", "--data", "[[1, 2]]"], 3, "no server answers"),
        (["no-such-command"], 2, "No such command"),
    ]
    for args, code, message in cases:
        done = modelrepo(*args)
        assert done.returncode == code, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr
