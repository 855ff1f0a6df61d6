"""Runs the real ``seldon-core-microservice`` for a model directory as a managed subprocess."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from modelrepo.local.runner import Runner
from wrappers.core.manifest import MANIFEST_FILE, Manifest
from wrappers.server.bind import address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_type_of(model_dir: Path) -> str:
    """The microservice's type for a model directory (``Manifest.microservice_type``; MODEL
    without a manifest, as ``allow_unverified`` serves one)."""
    if not (Path(model_dir) / MANIFEST_FILE).is_file():
        return "MODEL"
    return Manifest.read(model_dir).microservice_type


def seldon_command() -> str:
    """Seldon's ``seldon-core-microservice`` script, installed beside this interpreter."""
    return str(Path(sys.executable).parent / "seldon-core-microservice")


@dataclass
class Microservice(Runner):
    """``seldon-core-microservice`` serving one model directory on REST, gRPC and metrics ports.

    It runs through ``wrappers.server.launch`` so that every server binds ``host`` (loopback unless
    told otherwise), or with ``launcher=False`` as Seldon's s2i images run it: the
    ``seldon-core-microservice`` command, which binds 0.0.0.0. The process runs in its own
    session so that stopping it also stops gunicorn's workers and the gRPC and metrics
    processes it forks.
    """

    model_dir: Path
    user_class: str = "MyModel"
    host: str = "127.0.0.1"
    workers: int = 1
    threads: int = 1
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    #: the microservice's type (MODEL, TRANSFORMER, ROUTER, COMBINER); from the manifest if None
    service_type: str | None = None
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: a managed process is stopped by its owner, with no endpoint to withdraw first
    drain_seconds: float = 0.0
    log_path: Path | None = None
    #: through ``wrappers.server.launch``; otherwise Seldon's own ``seldon-core-microservice``
    launcher: bool = True
    #: where the process starts (the model directory unless told otherwise)
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{address(self.host, self.http_port)}"

    @property
    def grpc_target(self) -> str:
        return address(self.host, self.grpc_port)

    def command(self) -> list[str]:
        launcher = [sys.executable, "-m", "wrappers.server.launch", "--host", self.host]
        return [
            *(launcher if self.launcher else [seldon_command()]),
            self.user_class,
            "--service-type", self.service_type or service_type_of(self.model_dir),
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
            cwd=self.cwd or self.model_dir,
            env={**os.environ, **self.sizing(), **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def sizing(self) -> dict[str, str]:
        """The drain, and the workers and threads as variables too: each worker's thread budget
        (``wrappers.core.budget``) reads them, and gunicorn's flags do not reach it."""
        return {
            "MODELREPO_DRAIN_SECONDS": str(self.drain_seconds),
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
        }

    def ready(self) -> bool:
        """A REST worker answers ``/health/status`` with 200 (loaded and self-checked) and the
        gRPC server, which loads its own copy before it listens, accepts connections."""
        return self._rest_ready() and self._grpc_listening()

    def exited(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"exited with {self.process.returncode}"
        return None

    def describe(self) -> str:
        return f"the microservice for {Path(self.model_dir).name}"

    def _rest_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health/status", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _grpc_listening(self) -> bool:
        if {**os.environ, **self.env}.get("GRPC_WORKERS") == "0":
            return True
        try:
            with socket.create_connection((self.host, self.grpc_port), timeout=2):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> int | None:  # type: ignore[override]
        """Stops the whole process group: SIGTERM (a drain of ``drain_seconds``, then a
        graceful stop), then SIGKILL for what outlives ``timeout``; returns once every process
        of the group is gone."""
        if self.process is None:
            return None
        group = self.process.pid
        _signal_group(group, signal.SIGTERM)
        if not _wait_gone(self.process, self.drain_seconds + timeout):
            _signal_group(group, signal.SIGKILL)
            _wait_gone(self.process, timeout)  # killed children are reaped by init meanwhile
        return self.process.wait()

    def rest_worker_pids(self) -> list[int]:
        """The gunicorn workers serving REST: children of this process holding its socket.

        The gRPC and metrics processes are children too, but they are forked before gunicorn
        opens the REST socket, so they do not hold it.
        """
        assert self.process is not None
        sockets = set(listening_sockets(self.http_port))
        return [pid for pid in _children(self.process.pid) if sockets & _socket_inodes(pid)]

    def logs(self) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        return Path(self.log_path).read_text(errors="replace")[-3000:]


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _wait_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Waits until ``process`` and every process of its group have exited."""
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid):
        if time.monotonic() >= deadline:
            return False
        process.poll()
        time.sleep(0.05)
    return True


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def listening_sockets(port: int) -> dict[str, str]:
    """The TCP sockets listening on ``port``: inode -> bound address (``/proc/net/tcp[6]``)."""
    found = {}
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            hex_host, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found[inode] = _host(bytes.fromhex(hex_host), family)
    return found


def _host(raw: bytes, family: socket.AddressFamily) -> str:
    """``/proc/net`` writes addresses as 32-bit words in host (little-endian) order.

    An IPv4 address on a dual-stack socket (gRPC's) is given as IPv4, as it was bound.
    """
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(socket.inet_ntop(family, words))
    return str(getattr(address, "ipv4_mapped", None) or address)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes
