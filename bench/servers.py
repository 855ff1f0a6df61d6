"""The servers the harness measures, how to start each one and how to talk to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from modelrepo.local.process import Microservice, free_port
from modelrepo.modeldir.servingfiles import read_s2i_environment
from wrappers.contract import TableSpec
from wrappers.core.formats import SKOPS_FILE, load_skops
from wrappers.core.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
BASELINES = ROOT / "bench" / "baselines"
MLSERVER_VENV = ROOT / "bench" / "mlserver" / ".venv"
#: .s2i/environment keys that configure the image build, not the running server
S2I_BUILD_KEYS = {"MODEL_NAME", "SERVICE_TYPE", "PERSISTENCE"}


def request_rows(manifest: Manifest, rows: int) -> list[Any]:
    """Valid inputs for a model: its golden rows, repeated to the wanted batch size (a table's
    records without missing values, which V2's numeric tensors cannot carry)."""
    golden = manifest.golden[-1 if rows > 1 else 0].input
    if isinstance(manifest.inputs[0], TableSpec):
        records = golden[manifest.input_names[0]]
        complete = [r for r in records if None not in r.values()] or records
        return [complete[i % len(complete)] for i in range(rows)]
    source = np.asarray(golden[manifest.input_names[0]])
    return np.resize(source, (rows, source.shape[1])).tolist()


# ---- wire formats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """How one kind of server is asked for a prediction and how its answer reads."""

    path: str
    encode: Callable[[Manifest, list[list[float]]], dict[str, Any]]
    decode: Callable[[dict[str, Any]], np.ndarray]


def _seldon_request(manifest: Manifest, rows: list[list[float]]) -> dict[str, Any]:
    return {"data": {"names": manifest.matrix.names, "ndarray": rows}}


def _v2_request(manifest: Manifest, rows: list[list[float]]) -> dict[str, Any]:
    width = manifest.matrix.width
    flat = [value for row in rows for value in row]
    return {
        "inputs": [
            {"name": "input-0", "shape": [len(rows), width], "datatype": "FP64", "data": flat}
        ],
        "outputs": [{"name": "predict_proba"}],
    }


def _v2_answer(body: dict[str, Any]) -> np.ndarray:
    output = body["outputs"][0]
    return np.asarray(output["data"]).reshape(output["shape"])


SELDON = Protocol(
    "/api/v1.0/predictions", _seldon_request, lambda body: np.asarray(body["data"]["ndarray"])
)
FLASK = Protocol(
    "/predict", lambda _, rows: {"features": rows}, lambda body: np.asarray(body["prediction"])
)
#: the V2 request MLServer is asked with; the models here answer the very same body on /v2
V2 = Protocol("/v2/models/sklearn-iris/infer", _v2_request, _v2_answer)


# ---- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    """One server configuration of the benchmark and the models whose requests it answers."""

    key: str
    label: str
    models: list[str]
    protocol: Protocol
    workers: int
    threads: int = 1
    #: returns its input instead of predicting
    echo: bool = False
    #: builds (command, working directory, environment) for the free port
    launch: Callable[[int], tuple[list[str], Path, dict[str, str]]] = field(
        repr=False, default=None
    )  # type: ignore[assignment]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    port: int = 0
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.protocol.path}"

    def start(self, log_dir: Path) -> float:
        """Starts the server and returns the seconds from process start to its first answer."""
        self.port = free_port()
        command, cwd, env = self.launch(self.port)
        self.log_path = log_dir / f"{self.key}.log"
        started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + 240
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.key} exited with {self.process.returncode}{self.tail()}")
            try:
                self.probe()
                return time.perf_counter() - started
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        raise TimeoutError(f"{self.key} did not answer within 240 s{self.tail()}")

    def probe(self) -> None:
        """The first prediction a started server must answer (OSError until it can)."""
        manifest = Manifest.read(MODELS / self.models[0])
        self.ask(self.protocol.encode(manifest, request_rows(manifest, 1)), timeout=5)

    def ask(self, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def stop(self, wait: bool = True) -> None:
        """Sends SIGTERM to the server's whole session; with ``wait``, reaps it (or kills it)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if not wait:
            return
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n" + self.log_path.read_text(errors="replace")[-3000:]


def s2i_environment(model_dir: Path) -> dict[str, str]:
    """The run-time environment a model's image gets from its ``.s2i/environment``."""
    env = read_s2i_environment(model_dir)
    return {key: value for key, value in env.items() if key not in S2I_BUILD_KEYS}


def seldon_server(
    key: str,
    label: str,
    models: list[str],
    model_dir: Path,
    user_class: str,
    env: dict[str, str],
    *,
    echo: bool = False,
    launcher: bool = True,
    protocol: Protocol = SELDON,
) -> Server:
    """``seldon-core-microservice`` serving ``user_class`` with the workers and threads that
    ``env`` asks for, through ``wrappers.server.launch`` or, without ``launcher``, as the
    ``seldon-core-microservice`` command Seldon's s2i images run, asked over ``protocol``
    (Seldon's, or V2 on the same port)."""
    workers = int(env.get("GUNICORN_WORKERS", 1))
    threads = int(env.get("GUNICORN_THREADS", 1))

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        service = Microservice(
            model_dir,
            user_class=user_class,
            workers=workers,
            threads=threads,
            http_port=port,
            launcher=launcher,
        )
        return service.command(), model_dir, {"TF_CPP_MIN_LOG_LEVEL": "2", **env}

    return Server(key, label, models, protocol, workers, threads, echo, launch)


def model_server(
    name: str,
    variant: str,
    env: dict[str, str],
    label: str,
    protocol: Protocol = SELDON,
    launcher: bool = True,
) -> Server:
    return seldon_server(
        f"{name}-{variant}",
        label,
        [name],
        MODELS / name,
        "MyModel",
        env,
        protocol=protocol,
        launcher=launcher,
    )


@cache
def iris_joblib() -> Path:
    """The iris forest as the baselines load it (joblib, their own recipe), written once from
    the committed model.skops into a private temporary directory."""
    path = Path(tempfile.mkdtemp(prefix="modelrepo-bench-")) / "model.joblib"
    joblib.dump(load_skops(MODELS / "sklearn-iris" / SKOPS_FILE), path)
    return path


def flask_server() -> Server:
    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        model = iris_joblib()
        return [sys.executable, "flask_app.py", str(model), str(port)], BASELINES, {}

    return Server("flask", "cookbook Flask app", ["sklearn-iris"], FLASK, workers=1, launch=launch)


def ceiling_server(
    models: list[str], workers: int = 2, threads: int = 1, launcher: bool = False
) -> Server:
    """A user class that returns its input: Seldon's own cost per request, the most a wrapper
    can reach by doing nothing. Seldon as installed (``Echo`` is no ``ServedModel``, so the
    ``seldon-core-microservice`` command leaves Seldon unchanged), or with ``launcher`` through
    ``wrappers.server.launch``, whose metrics store takes less of that cost."""
    env = {"GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)}
    return seldon_server(
        "ceiling-launcher" if launcher else "ceiling",
        "Seldon returning its input" + (", through wrappers.server.launch" if launcher else ""),
        models,
        BASELINES,
        "Echo",
        env,
        echo=True,
        launcher=launcher,
    )


def keras_server(workers: int = 2) -> Server:
    env = {"GUNICORN_WORKERS": str(workers), "BENCH_MODEL_DIR": str(MODELS / "tf-regressor")}
    label = "Keras model.predict per request"
    return seldon_server("keras", label, ["tf-regressor"], BASELINES, "KerasPredict", env)


def mlserver_home(
    home: Path, port: int, workers: int, model: dict[str, Any], grpc_port: int = 0
) -> list[str]:
    """Writes MLServer's ``settings.json`` in ``home`` and ``model``'s ``model-settings.json`` in
    ``home/<name>``; returns the command that starts MLServer there."""
    model_dir = home / model["name"]
    model_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": grpc_port or free_port(),
        "metrics_port": free_port(),
        "parallel_workers": workers,
        "debug": False,  # no access log, like the other servers
    }
    (home / "settings.json").write_text(json.dumps(settings))
    (model_dir / "model-settings.json").write_text(json.dumps(model))
    return [str(MLSERVER_VENV / "bin" / "mlserver"), "start", "."]


def mlserver_server(run_dir: Path, workers: int = 2) -> Server:
    """MLServer 1.7 with mlserver-sklearn on the same forest (as joblib), in its own
    environment."""

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        model = {
            "name": "sklearn-iris",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": str(iris_joblib())},
        }
        home = run_dir / "mlserver"
        return mlserver_home(home, port, workers, model), home, {}

    return Server(
        "mlserver",
        f"MLServer 1.7, {workers} workers",
        ["sklearn-iris"],
        V2,
        workers=workers,
        launch=launch,
    )
