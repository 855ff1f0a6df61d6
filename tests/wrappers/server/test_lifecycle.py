"""The server's life cycle for real: drain on SIGTERM under load, exit, and stalled clients.

Each test runs the real ``seldon-core-microservice`` through ``wrappers.server.launch`` and
signals it as Kubernetes does (SIGTERM to the main process only) or as ``kill`` of the process
group and systemd do (every process).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import requests
from conftest import MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from modelrepo.local.process import Microservice, _children, _group_alive

MODEL = MODELS_DIR / "sklearn-iris"
DRAIN_SECONDS = 4.0
BODY = json.loads((MODEL / "request.json").read_text())


@dataclass
class Traffic:
    """Requests sent from the moment of ``start`` on, each with when it was sent and how it
    ended."""

    service: Microservice
    stop_at: float = float("inf")
    rest: list[tuple[float, object]] = field(default_factory=list)
    grpc: list[tuple[float, object]] = field(default_factory=list)
    health: list[tuple[float, object]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, rest_clients: int = 6) -> Traffic:
        targets = [self._rest] * rest_clients + [self._grpc, self._health]
        self.threads = [threading.Thread(target=target, daemon=True) for target in targets]
        for thread in self.threads:
            thread.start()
        return self

    def finish(self, at: float) -> None:
        self.stop_at = at
        for thread in self.threads:
            thread.join(timeout=60)

    def _rest(self) -> None:
        session = requests.Session()  # keep-alive, as a load balancer's connections are
        while time.time() < self.stop_at:
            sent = time.time()
            try:
                answer = session.post(
                    self.service.url + "/api/v1.0/predictions", json=BODY, timeout=30
                )
                ok = answer.status_code == 200 and "ndarray" in answer.json()["data"]
                self.rest.append((sent, 200 if ok else answer.status_code))
            except requests.RequestException as error:
                self.rest.append((sent, type(error).__name__))

    def _grpc(self) -> None:
        request = json_to_seldon_message(BODY)
        with grpc.insecure_channel(self.service.grpc_target) as channel:
            stub = prediction_pb2_grpc.ModelStub(channel)
            while time.time() < self.stop_at:
                sent = time.time()
                try:
                    answer = stub.Predict(request, timeout=30)
                    ok = answer.HasField("data")
                    self.grpc.append((sent, "OK" if ok else "EMPTY"))
                except grpc.RpcError as error:
                    self.grpc.append((sent, error.code().name))
                    time.sleep(0.05)

    def _health(self) -> None:
        """Seldon's readiness and the V2 protocol's, both of which fail while draining."""
        while time.time() < self.stop_at:
            for path in ("/health/status", "/v2/health/ready"):
                sent = time.time()
                try:
                    answer = requests.get(self.service.url + path, timeout=5)
                    self.health.append((sent, answer.status_code))
                except requests.RequestException as error:
                    self.health.append((sent, type(error).__name__))
            time.sleep(0.1)


def served(model_dir: Path, tmp_path: Path, **env: str) -> Microservice:
    return Microservice(
        model_dir,
        workers=2,
        threads=2,
        drain_seconds=DRAIN_SECONDS,
        env=env,
        log_path=tmp_path / "server.log",
    )


def between(records: list[tuple[float, object]], start: float, end: float) -> list[object]:
    return [outcome for sent, outcome in records if start <= sent < end]


def wait_exit(service: Microservice, timeout: float) -> tuple[int, float]:
    assert service.process is not None
    started = time.time()
    code = service.process.wait(timeout=timeout)
    group = service.process.pid
    while _group_alive(group) and time.time() - started < timeout:
        time.sleep(0.05)
    return code, time.time() - started


@pytest.mark.parametrize("who", ["main process", "process group"])
def test_sigterm_drains_under_load_then_every_process_exits(who, tmp_path, reliability):
    service = served(MODEL, tmp_path).start().wait_ready()
    traffic = Traffic(service).start()
    time.sleep(1.5)
    assert service.process is not None
    term = time.time()
    if who == "main process":  # the kubelet signals PID 1 only
        os.kill(service.process.pid, signal.SIGTERM)
    else:
        os.killpg(service.process.pid, signal.SIGTERM)
    deadline = term + DRAIN_SECONDS
    code, waited = wait_exit(service, timeout=DRAIN_SECONDS + 30)
    exited = term + waited
    traffic.finish(at=exited + 0.5)

    assert code == 0, service._tail()
    assert not _group_alive(service.process.pid), "a process of the server outlived it"
    # answered during the whole drain, health already failing
    rest_sent = between(traffic.rest, term, deadline)
    grpc_sent = between(traffic.grpc, term, deadline)
    late_in_drain = between(traffic.rest, deadline - 1.0, deadline)
    assert rest_sent and late_in_drain and grpc_sent
    lost = [(round(t - term, 3), o) for t, o in traffic.rest if o != 200 and term <= t < deadline]
    assert lost == [], "REST requests lost during the drain"
    lost = [(round(t - term, 3), o) for t, o in traffic.grpc if o != "OK" and t < deadline]
    assert lost == [], "gRPC requests lost during the drain"
    assert set(between(traffic.health, term + 0.3, deadline)) == {503}
    assert set(between(traffic.health, 0, term - 0.2)) == {200}
    # and nothing is served once it has gone
    assert 200 not in between(traffic.rest, exited + 0.1, float("inf"))
    reliability.add(
        f"drain ({who})",
        requests=len(between(traffic.rest, 0, deadline)) + len(between(traffic.grpc, 0, deadline)),
        lost_before_drain_end=0,
        exit_seconds_after_drain=round(max(0.0, exited - deadline), 2),
    )


def test_the_prestop_hook_begins_the_drain_while_predictions_are_still_served(tmp_path):
    service = served(MODEL, tmp_path).start().wait_ready()
    assert service.process is not None
    hook = subprocess.Popen(
        [sys.executable, "-m", "wrappers.server.drain", "--pid", str(service.process.pid)],
        env={**os.environ, "MODELREPO_DRAIN_SECONDS": str(DRAIN_SECONDS)},
        stderr=subprocess.PIPE,
        text=True,
    )
    health = requests.get(service.url + "/health/status", timeout=30)
    while health.status_code == 200 and hook.poll() is None:
        health = requests.get(service.url + "/health/status", timeout=30)
    prediction = requests.post(service.url + "/api/v1.0/predictions", json=BODY, timeout=30)
    assert hook.poll() is None, "the hook returned before the drain was over"
    assert health.status_code == 503
    assert prediction.status_code == 200, prediction.text
    _, errors = hook.communicate(timeout=60)
    assert hook.returncode == 0, errors
    # the kubelet's SIGTERM after the hook finds a server that is already stopping
    with contextlib.suppress(ProcessLookupError):
        os.kill(service.process.pid, signal.SIGTERM)
    code, _ = wait_exit(service, timeout=30)
    assert code == 0, service._tail()


# ---- slow and stalled clients -------------------------------------------------------------------

READ_TIMEOUT = 10.0


def stalled_connection(address: tuple[str, int], whole_head: bool) -> socket.socket:
    """A client that sends part of a request and then nothing."""
    body = json.dumps(BODY).encode()
    head = (
        f"POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(address, timeout=30)
    sock.sendall(head + body[: len(body) // 2] if whole_head else head[: len(head) // 2])
    return sock


def test_stalled_clients_do_not_starve_others_and_are_cut_with_408(tmp_path, reliability):
    service = Microservice(
        MODEL,
        workers=1,
        threads=1,
        env={"MODELREPO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)},
        log_path=tmp_path / "server.log",
    )
    with service:
        address = (service.host, service.http_port)
        stalled = [stalled_connection(address, whole_head=i % 2 == 0) for i in range(12)]
        started = time.monotonic()
        answer = requests.post(service.url + "/api/v1.0/predictions", json=BODY, timeout=60)
        answered = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        for sock in stalled:  # answered while every stalled connection was still waiting
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(4096)
            sock.settimeout(60)
        for sock in stalled:
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408"), reply
            assert sock.recv(4096) == b"", "a timed-out connection stays open"
            sock.close()
    reliability.add(
        "stalled clients",
        requests=1 + len(stalled),
        stalled=len(stalled),
        normal_answer_seconds=round(answered, 3),
    )


def test_a_body_sent_slowly_but_within_the_timeout_is_answered(tmp_path):
    service = Microservice(
        MODEL,
        env={"MODELREPO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)},
        log_path=tmp_path / "server.log",
    )
    with service:
        body = json.dumps(BODY).encode()
        head = (
            b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        with socket.create_connection((service.host, service.http_port), timeout=30) as sock:
            sock.sendall(head)
            for start in range(0, len(body), 8):
                chunk = body[start : start + 8]
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                time.sleep(0.05)
            sock.sendall(b"0\r\n\r\n")
            reply = sock.makefile("rb")
            status = reply.readline()
            headers = dict(
                line.rstrip().lower().split(b": ", 1) for line in iter(reply.readline, b"\r\n")
            )
            length = int(headers[b"content-length"])
            answer = json.loads(reply.read(length))
        assert status.startswith(b"HTTP/1.1 200"), status
        assert len(answer["data"]["ndarray"]) == len(BODY["data"]["ndarray"])


def grpc_workers(service: Microservice) -> list[int]:
    """The gRPC workers: the children of the gRPC parent, which is the main process's second
    child (after the metrics' ``multiprocessing.Manager``, before the metrics server)."""
    assert service.process is not None
    children = sorted(_children(service.process.pid))
    return _children(children[1]) if len(children) > 1 else []


def test_a_sigterm_while_the_grpc_worker_loads_still_stops_every_process(tmp_path):
    """A SIGTERM while the servers start (before gunicorn's arbiter has its handlers, the gRPC
    worker still loading with its parent's) must begin the drain, not kill the main process
    at once or be lost: either left the gRPC worker serving on, orphaned."""
    for attempt in range(5):
        service = Microservice(MODEL, log_path=tmp_path / f"server-{attempt}.log").start()
        assert service.process is not None
        try:
            deadline = time.monotonic() + 60
            while not (workers := grpc_workers(service)) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert workers, service._tail()
            os.kill(service.process.pid, signal.SIGTERM)
            loading = f"ready in pid {workers[0]}" not in service.log_path.read_text()
            code, _ = wait_exit(service, timeout=60)
            outlived = _group_alive(service.process.pid)
        finally:
            service.stop()
        assert not outlived, f"a process outlived the server (SIGTERM while loading: {loading})"
        assert code == 0, service._tail()
        if loading:
            return
    pytest.fail("the gRPC worker had always loaded before the SIGTERM arrived")
