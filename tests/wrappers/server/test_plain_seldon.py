"""Plain ``seldon-core-microservice MyModel``, as Seldon's s2i images run it, gets every change
``wrappers.server.patches`` makes to Seldon, as ``wrappers.server.launch`` does."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import types
from pathlib import Path

import grpc
import pytest
import requests
from conftest import MODELS_DIR
from prometheus_client.parser import text_string_to_metric_families
from seldon_core import microservice
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from modelrepo.local.process import Microservice, _group_alive
from wrappers import Manifest
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
from wrappers.server import observe, patches, seldon_grpc, v2_grpc

MODEL = MODELS_DIR / "sklearn-iris"
GOOD = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}
BAD = {"data": {"ndarray": [[5.1, 3.5]]}}
METRICS_PATH = "/prometheus"
DRAIN_SECONDS = 3.0
READ_TIMEOUT = 1.0


def test_every_patch_replaces_a_name_seldon_has_in_a_stated_order():
    listed = patches.seldon_patches(microservice, "127.0.0.1")
    for patch in listed:
        assert hasattr(patch.module, patch.name), patch
        assert patch.why
    in_seldon = [p for p in listed if p.module.__name__.startswith("seldon_core")]
    assert len(in_seldon) == 16
    assert [p for p in listed if p.module is v2_grpc] == [
        p for p in listed if p.name == "InferenceServicer"
    ]
    servicers = [p.replace for p in listed if p.name == "SeldonModelGRPC"]
    assert servicers == [seldon_grpc.with_status_codes, observe.observed_grpc], (
        "requests are counted by the status code the inner replacement sets"
    )


def test_nothing_is_patched_outside_seldons_main():
    assert patches.running_microservice(sys._getframe()) is None


def test_seldons_main_is_found_however_it_was_started(monkeypatch: pytest.MonkeyPatch):
    """``python -m seldon_core.microservice`` runs Seldon's ``main`` in ``__main__``, the
    ``seldon-core-microservice`` command in ``seldon_core.microservice``: either module is the
    one patched."""
    module = types.ModuleType("started_as_main")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    source = "def main():\n    return construct()\n"
    module.construct = lambda: patches.running_microservice(sys._getframe())
    exec(compile(source, str(Path("site", *patches.MICROSERVICE_FILE)), "exec"), vars(module))
    assert module.main() is module


def scrape(service: Microservice) -> list:
    answer = requests.get(f"http://127.0.0.1:{service.metrics_port}{METRICS_PATH}", timeout=10)
    assert answer.status_code == 200
    return list(text_string_to_metric_families(answer.text))


def rest_requests_counted(service: Microservice, name: str) -> bool:
    """Whether the metrics count REST predictions labelled with the model's name."""
    return any(
        s.labels.get("transport") == "rest" and s.labels.get("model_name") == name
        for family in scrape(service)
        for s in family.samples
        if s.name == "modelrepo_requests_total"
    )


def check_grpc(service: Microservice, name: str) -> None:
    """A refused Seldon request ends INVALID_ARGUMENT (not UNKNOWN); V2 is on the same port."""
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        assert stub.Predict(json_to_seldon_message(GOOD), timeout=30).HasField("data")
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(json_to_seldon_message(BAD), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        v2 = pb_grpc.GRPCInferenceServiceStub(channel)
        assert v2.ModelReady(pb.ModelReadyRequest(name=name), timeout=30).ready


def check_stalled_request_cut(service: Microservice) -> None:
    """The REST worker reads requests whole: a stalled one is answered 408."""
    with socket.create_connection((service.host, service.http_port), timeout=30) as sock:
        sock.sendall(b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 408")


def check_drain_then_exit(service: Microservice) -> None:
    """SIGTERM to the main process: readiness fails while predictions are still answered, then
    every process exits."""
    assert service.process is not None
    os.kill(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + DRAIN_SECONDS
    while requests.get(service.url + "/health/status", timeout=5).status_code != 503:
        assert time.monotonic() < deadline, "readiness still passes while draining"
        time.sleep(0.05)
    url = service.url + "/api/v1.0/predictions"
    assert requests.post(url, json=GOOD, timeout=30).status_code == 200
    assert service.process.wait(timeout=DRAIN_SECONDS + 30) == 0
    deadline = time.monotonic() + 30
    while _group_alive(service.process.pid):
        assert time.monotonic() < deadline, "a server process outlived the main one"
        time.sleep(0.05)


@pytest.mark.e2e
def test_plain_seldon_core_microservice_gets_every_change(tmp_path: Path):
    name = Manifest.read(MODEL).name
    log = tmp_path / "server.log"
    env = {
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
        "MODELREPO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    service = Microservice(
        MODEL, launcher=False, drain_seconds=DRAIN_SECONDS, env=env, log_path=log
    )
    assert Path(service.command()[0]).name == "seldon-core-microservice"
    with service:
        url = service.url + "/api/v1.0/predictions"
        assert requests.post(url, json=GOOD, timeout=30).status_code == 200
        assert requests.post(url, json=BAD, timeout=30).status_code == 400
        check_grpc(service, name)
        check_stalled_request_cut(service)
        deadline = time.monotonic() + 30  # workers share their metrics every second
        while not rest_requests_counted(service, name):
            assert time.monotonic() < deadline, "no labelled request count on the metrics port"
            time.sleep(0.2)
        check_drain_then_exit(service)
    assert log.read_text().count("changes made to seldon_core") == 1
