"""Runs the real ``seldon-core-microservice`` for a model directory as a managed subprocess."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Microservice:
    """``seldon-core-microservice`` serving one model directory on REST, gRPC and metrics ports.

    The process runs in its own session so that stopping it also stops gunicorn's workers and
    the gRPC and metrics processes it forks.
    """

    model_dir: Path
    user_class: str = "MyModel"
    workers: int = 1
    threads: int = 1
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def command(self) -> list[str]:
        executable = shutil.which("seldon-core-microservice", path=str(Path(sys.executable).parent))
        return [
            executable or "seldon-core-microservice",
            self.user_class,
            "--service-type", "MODEL",
            "--http-port", str(self.http_port),
            "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port),
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> Microservice:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.model_dir,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 120.0) -> Microservice:
        """Waits until a worker answers ``/health/status`` with 200 (loaded and self-checked)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"microservice exited with {self.process.returncode}{self._tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health/status", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"microservice not ready after {timeout:.0f}s{self._tail()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stops the whole process group: SIGTERM, then SIGKILL for what outlives ``timeout``."""
        if self.process is None:
            return None
        group = self.process.pid
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(group) and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.05)
        if _group_alive(group):
            _signal_group(group, signal.SIGKILL)
        return self.process.wait()

    def _tail(self) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        return "\n" + Path(self.log_path).read_text(errors="replace")[-3000:]

    def __enter__(self) -> Microservice:
        return self.start().wait_ready()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
