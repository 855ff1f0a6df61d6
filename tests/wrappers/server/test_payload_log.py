"""Payload logging from the real microservice to a real local receiver or a file: every sampled
prediction arrives as Seldon's request and response CloudEvents, and a receiver that stalls
slows no prediction."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
import requests
from conftest import MODELS_DIR
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers.server.observe import payload_log_for
from wrappers.server.payload_log import REQUEST_TYPE, RESPONSE_TYPE
from wrappers.settings import Settings

MODEL = "sklearn-iris"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
CE_HEADERS = {
    "Ce-Id",
    "Ce-Specversion",
    "Ce-Source",
    "Ce-Type",
    "Ce-Time",
    "Ce-Requestid",
    "Ce-Modelid",
    "Ce-Inferenceservicename",
    "Ce-Namespace",
    "Ce-Endpoint",
    "Ce-Protocol",
}


class Receiver(ThreadingHTTPServer):
    """A local HTTP server that keeps every POST it receives: (headers, body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append((dict(handler.headers), body))
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def serving(tmp_path, **settings: object) -> Microservice:
    env = {f"MODELREPO_{name.upper()}": str(value) for name, value in settings.items()}
    return Microservice(MODELS_DIR / MODEL, threads=2, env=env, log_path=tmp_path / "server.log")


def predict(service: Microservice, body: dict, headers: dict | None = None) -> requests.Response:
    url = service.url + "/api/v1.0/predictions"
    headers = {"Content-Type": "application/json", **(headers or {})}
    return requests.post(url, data=json.dumps(body), headers=headers, timeout=30)


def wait_for(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


def counter(service: Microservice, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


@pytest.mark.e2e
def test_every_prediction_arrives_as_request_and_response_cloudevents(receiver, tmp_path):
    bodies = [{"data": {"ndarray": ROWS[: 1 + i % 3]}} for i in range(6)]
    bodies.append({"data": {"ndarray": [[1.0, 2.0]]}})  # refused with 400: logged too
    bodies.append({"data": {"ndarray": ROWS}, "meta": {"puid": "puid-from-the-executor"}})
    with serving(tmp_path, payload_log=receiver.url, payload_log_rate=1) as service:
        sent = []
        for body in bodies:
            answer = predict(service, body)
            sent.append((json.dumps(body).encode(), answer.content, answer.status_code))
        answer = predict(service, bodies[0], {"Seldon-Puid": "puid-in-a-header"})
        sent.append((json.dumps(bodies[0]).encode(), answer.content, answer.status_code))
        with grpc.insecure_channel(service.grpc_target) as channel:
            stub = prediction_pb2_grpc.ModelStub(channel)
            grpc_answer = stub.Predict(json_to_seldon_message(bodies[1]), timeout=30)
        expected = 2 * (len(sent) + 1)
        wait_for(lambda: len(receiver.received) >= expected)

    assert [status for *_, status in sent] == [200] * 6 + [400] + [200] * 2
    assert len(receiver.received) == expected
    pairs: dict[str, dict[str, tuple[dict, bytes]]] = defaultdict(dict)
    for headers, body in receiver.received:
        assert set(headers) >= CE_HEADERS, set(headers)
        assert headers["Content-Type"] == "application/json"
        assert headers["Ce-Specversion"] == "1.0"
        assert headers["Ce-Modelid"] == headers["Ce-Inferenceservicename"] == MODEL
        pairs[headers["Ce-Requestid"]][headers["Ce-Type"]] = (headers, body)
    assert len(pairs) == len(sent) + 1, "request and response share their Ce-Requestid"
    assert all(sorted(pair) == [REQUEST_TYPE, RESPONSE_TYPE] for pair in pairs.values())
    ids = [headers["Ce-Id"] for headers, _ in receiver.received]
    assert len(set(ids)) == len(ids), "each event has its own Ce-Id"
    assert {"puid-from-the-executor", "puid-in-a-header"} <= set(pairs)
    over_rest = [p for p in pairs.values() if p[REQUEST_TYPE][0]["Ce-Source"].startswith("http")]
    logged = sorted((p[REQUEST_TYPE][1], p[RESPONSE_TYPE][1]) for p in over_rest)
    assert logged == sorted((request, response) for request, response, _ in sent)
    (over_grpc,) = [p for p in pairs.values() if p not in over_rest]
    assert json.loads(over_grpc[REQUEST_TYPE][1]) == bodies[1]
    assert json.loads(over_grpc[RESPONSE_TYPE][1]) == seldon_message_to_json(grpc_answer)


@pytest.mark.e2e
def test_a_rate_of_zero_sends_nothing(receiver, tmp_path):
    with serving(tmp_path, payload_log=receiver.url, payload_log_rate=0) as service:
        for i in range(5):
            assert predict(service, {"data": {"ndarray": ROWS[: 1 + i % 3]}}).status_code == 200
        wait_for(lambda: counter(service, "modelrepo_requests_total") >= 5)
        assert counter(service, "modelrepo_requests_total") == 5
    assert receiver.received == []


def test_payload_logging_is_off_unless_a_destination_is_set():
    class Model:
        settings = Settings.resolve({})

    assert Settings.resolve({}).payload_log is None
    assert payload_log_for(Model(), None) is None


@pytest.mark.e2e
def test_a_json_lines_file_gets_one_line_per_request_and_response(tmp_path):
    path = tmp_path / "payloads.jsonl"
    bodies = [{"data": {"ndarray": ROWS[: 1 + i % 3]}} for i in range(9)]
    with serving(tmp_path, payload_log=path, payload_log_rate=1) as service:
        answers = [predict(service, body).json() for body in bodies]
        lines = lambda: path.read_text().splitlines() if path.exists() else []  # noqa: E731
        wait_for(lambda: len(lines()) >= 2 * len(bodies))
        events = [json.loads(line) for line in lines()]

    assert len(events) == 2 * len(bodies)
    by_request: dict[str, dict[str, object]] = defaultdict(dict)
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["datacontenttype"] == "application/json"
        by_request[event["requestid"]][event["type"]] = event["data"]
    logged = sorted(
        (json.dumps(pair[REQUEST_TYPE]), json.dumps(pair[RESPONSE_TYPE]))
        for pair in by_request.values()
    )
    assert logged == sorted(
        (json.dumps(b), json.dumps(a)) for b, a in zip(bodies, answers, strict=True)
    )


def accept_forever(listener: socket.socket, accepted: list[socket.socket]) -> None:
    """Accepts connections and neither reads nor answers them, until ``listener`` closes."""
    while True:
        try:
            accepted.append(listener.accept()[0])
        except OSError:
            return


@pytest.mark.e2e
def test_a_receiver_that_never_answers_slows_no_prediction(tmp_path):
    """Every prediction is answered while the receiver holds the payload log's first event
    unanswered; what the queue (4 predictions) cannot hold is dropped and counted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    accepted: list[socket.socket] = []
    threading.Thread(target=accept_forever, args=(listener, accepted), daemon=True).start()
    count = 40
    try:
        with serving(tmp_path, payload_log=url, payload_log_queue=4) as service:
            body = {"data": {"ndarray": ROWS}}
            statuses = [predict(service, body).status_code for _ in range(count)]
            wait_for(lambda: counter(service, "modelrepo_payload_log_dropped_total") > 0)
            dropped = counter(service, "modelrepo_payload_log_dropped_total")
            health = requests.get(service.url + "/health/status", timeout=10).status_code
            connections = len(accepted)
    finally:
        listener.close()
        for sock in accepted:
            sock.close()

    assert statuses == [200] * count
    assert connections >= 1, "the payload log reached the receiver"
    # each connection took one prediction off the queue, one more may be taken and not sent yet
    assert count - 4 - connections - 1 <= dropped <= count - 4
    assert health == 200
