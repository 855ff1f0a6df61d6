"""The servers of the heavy cases: this repository's (as deployed), a naive Seldon user class,
MLServer with adaptive batching and TorchServe, each serving one model directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.heavy.wire import Body, Sample
from bench.servers import (
    BASELINES,
    MLSERVER_VENV,
    MODELS,
    ROOT,
    SELDON,
    Server,
    mlserver_home,
    s2i_environment,
)
from modelrepo.local.process import Microservice, free_port
from wrappers.core.budget import cpu_count

HERE = Path(__file__).resolve().parent
PEER_MODEL = HERE / "peer_model.py"
TORCHSERVE_DIR = ROOT / "bench" / "torchserve"
TORCHSERVE_VENV = TORCHSERVE_DIR / ".venv"
#: what our server is asked over: Seldon's REST, V2 REST with binary tensors, V2 gRPC (raw)
OURS_WIRES = ("seldon", "v2-binary", "grpc")


@dataclass
class HeavyServer(Server):
    """A server of one model, asked over each of ``wires`` (see ``wire.Sample``)."""

    wires: tuple[str, ...] = ()
    grpc_port: int = 0
    sample: Sample | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def body(self, wire: str) -> Body:
        assert self.sample is not None
        return getattr(self.sample, wire.replace("-", "_"))()

    def probe(self) -> None:
        for wire in self.wires:
            self.send(self.body(wire), timeout=5)

    def send(self, body: Body, timeout: float = 60) -> tuple[bytes, dict[str, str]]:
        """One request; its answer's bytes and headers (OSError when it fails)."""
        if body.wire == "grpc":
            try:
                with grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
                    return channel.unary_unary(body.path)(body.data, timeout=timeout), {}
            except grpc.RpcError as error:
                raise OSError(f"gRPC {error.code().name}: {error.details()}") from error
        request = urllib.request.Request(self.base + body.path, body.data, body.headers)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.read(), dict(answer.headers.items())

    def target(self, wire: str) -> str:
        """Where the load of ``wire`` goes: a URL, or the gRPC address."""
        if wire == "grpc":
            return f"127.0.0.1:{self.grpc_port}"
        return self.base + self.body(wire).path


def native_threads(threads: int) -> dict[str, str]:
    """OpenMP and BLAS pools of ``threads``, as the wrappers' budget sizes them."""
    return {f"{name}_NUM_THREADS": str(threads) for name in ("OMP", "MKL", "OPENBLAS")}


def ours(model: str) -> HeavyServer:
    """The model's directory served as deployed (its ``.s2i/environment``), gRPC with as many
    threads as each REST worker."""
    env = s2i_environment(MODELS / model)
    env.setdefault("GRPC_THREADS", env.get("GUNICORN_THREADS", "1"))
    workers, threads = int(env.get("GUNICORN_WORKERS", 1)), int(env.get("GUNICORN_THREADS", 1))
    label = f"{model} as deployed ({workers} worker(s) x {threads} thread(s))"
    return _microservice(f"ours-{model}", label, model, MODELS / model, "MyModel", env, OURS_WIRES)


def naive(model: str) -> HeavyServer:
    """``bench/baselines/NaivePredict.py``: the model per request, Seldon's defaults."""
    env = {
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
        "BENCH_MODEL_DIR": str(MODELS / model),
        "BENCH_THREADS": str(cpu_count()),
        **native_threads(cpu_count()),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    label = f"naive Seldon user class, {model} per request"
    return _microservice(
        f"naive-{model}", label, model, BASELINES, "NaivePredict", env, ("seldon",), False
    )


def _microservice(
    key: str,
    label: str,
    model: str,
    directory: Path,
    user_class: str,
    env: dict[str, str],
    wires: tuple[str, ...],
    launcher: bool = True,
) -> HeavyServer:
    workers, threads = int(env.get("GUNICORN_WORKERS", 1)), int(env.get("GUNICORN_THREADS", 1))
    server = HeavyServer(key, label, [model], SELDON, workers, threads, wires=wires)
    server.sample = Sample.of(MODELS / model)

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        server.grpc_port = free_port()
        service = Microservice(
            directory,
            user_class=user_class,
            workers=workers,
            threads=threads,
            http_port=port,
            grpc_port=server.grpc_port,
            launcher=launcher,
        )
        return service.command(), directory, {"TF_CPP_MIN_LOG_LEVEL": "2", **env}

    server.launch = launch
    return server


@dataclass(frozen=True)
class Batching:
    """A peer's configuration: worker processes, the largest batch, the longest wait for one."""

    workers: int
    batch: int
    delay_ms: int

    def __str__(self) -> str:
        return f"{self.workers}w-b{self.batch}-{self.delay_ms}ms"

    @property
    def threads(self) -> int:
        return max(1, cpu_count() // self.workers)


def mlserver(model: str, run_dir: Path, config: Batching) -> HeavyServer:
    """MLServer 1.7 with ``bench/mlserver/runtimes.py`` and adaptive batching."""
    label = f"MLServer 1.7.1, custom runtime, adaptive batching {config}"
    server = HeavyServer(
        f"mlserver-{config}-{model}", label, [model], SELDON, config.workers, 1,
        wires=("v2-json", "grpc"),
    )  # fmt: skip
    server.sample = Sample.of(MODELS / model)

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        server.grpc_port = free_port()
        home = run_dir / server.key
        model_settings = {
            "name": model,
            "implementation": "runtimes.PeerRuntime",
            "max_batch_size": config.batch,
            "max_batch_time": config.delay_ms / 1000,
            "parameters": {"uri": str(MODELS / model), "extra": {"threads": config.threads}},
        }
        command = mlserver_home(home, port, config.workers, model_settings, server.grpc_port)
        for source in (PEER_MODEL, ROOT / "bench" / "mlserver" / "runtimes.py"):
            shutil.copy(source, home / model / source.name)
        return command, home, native_threads(config.threads)

    server.launch = launch
    return server


def torchserve(model: str, run_dir: Path, config: Batching) -> HeavyServer:
    """TorchServe 0.12 (its own environment, Debian's JDK) with ``bench/torchserve/handler.py``."""
    label = f"TorchServe 0.12, {config}"
    server = HeavyServer(
        f"torchserve-{config}-{model}", label, [model], SELDON, config.workers, 1,
        wires=("torchserve",),
    )  # fmt: skip
    server.sample = Sample.of(MODELS / model)

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        home = run_dir / server.key
        store = archive(model, home, config)
        registration = {
            model: {
                "1.0": {
                    "defaultVersion": True,
                    "marName": model,
                    "minWorkers": config.workers,
                    "maxWorkers": config.workers,
                    "batchSize": config.batch,
                    "maxBatchDelay": config.delay_ms,
                    "responseTimeout": 120,
                }
            }
        }
        properties = {
            "inference_address": f"http://127.0.0.1:{port}",
            "management_address": f"http://127.0.0.1:{free_port()}",
            "metrics_address": f"http://127.0.0.1:{free_port()}",
            "model_store": str(store),
            "load_models": model,
            "models": json.dumps(registration),
            "disable_token_authorization": "true",
            "enable_envvars_config": "false",
            "install_py_dep_per_model": "false",
            "default_workers_per_model": str(config.workers),
        }
        config_file = home / "config.properties"
        config_file.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        command = [str(TORCHSERVE_VENV / "bin" / "torchserve"), "--start", "--foreground"]
        command += ["--ncs", "--disable-token-auth", "--ts-config", str(config_file)]
        path = os.pathsep.join([str(TORCHSERVE_VENV / "bin"), os.environ.get("PATH", "")])
        env = {"PATH": path, "LOG_LOCATION": str(home / "logs")}
        return command, home, {**env, **native_threads(config.threads)}

    server.launch = launch
    return server


def archive(model: str, home: Path, config: Batching) -> Path:
    """The model store: the handler as a directory archive (no copy of the weights: the
    handler loads the model directory named in ``source.json``)."""
    store = home / "store"
    store.mkdir(parents=True, exist_ok=True)
    (home / "source.json").write_text(
        json.dumps({"model_dir": str(MODELS / model), "threads": config.threads})
    )
    extra = ",".join(str(p) for p in (PEER_MODEL, home / "source.json"))
    command = [str(TORCHSERVE_VENV / "bin" / "torch-model-archiver"), "--model-name", model]
    command += ["--version", "1.0", "--handler", str(TORCHSERVE_DIR / "handler.py")]
    command += ["--extra-files", extra, "--export-path", str(store)]
    command += ["--archive-format", "no-archive", "--force"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return store


def mlserver_ready() -> bool:
    return (MLSERVER_VENV / "bin" / "mlserver").exists()


def torchserve_ready() -> bool:
    return (TORCHSERVE_VENV / "bin" / "torchserve").exists() and shutil.which("java") is not None
