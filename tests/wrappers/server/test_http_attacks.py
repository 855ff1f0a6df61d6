"""Bad requests against the real microservice: each gets a clear 4xx; the server keeps serving."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from conftest import golden_rows
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import listening_sockets

pytestmark = pytest.mark.e2e
PREDICT = "/api/v1.0/predictions"
JSON = {"Content-Type": "application/json"}


@dataclass
class Attack:
    name: str
    status: int
    fragment: str
    path: str = PREDICT
    method: str = "POST"
    request: dict[str, Any] = field(default_factory=dict)


def as_json(message: object) -> dict[str, Any]:
    return {"json": message}


def as_text(text: str | bytes, headers: dict[str, str] = JSON) -> dict[str, Any]:
    return {"data": text, "headers": headers}


def rows(batch: object) -> dict[str, Any]:
    return as_json({"data": {"ndarray": batch}})


def numbers(token: str, width: int) -> dict[str, Any]:
    """A row of ``width`` copies of a number written as ``token`` (NaN, 1e999...)."""
    return as_text('{"data": {"ndarray": [[' + ", ".join([token] * width) + "]]}}")


def attacks(width: int, max_rows: int) -> list[Attack]:
    row = [0.5] * width
    feedback = "/api/v1.0/feedback"
    return [
        Attack("malformed JSON", 400, "not valid JSON", request=as_text("{no")),
        Attack("empty body", 400, "no body", request=as_text(b"")),
        Attack("not JSON", 400, "Content-Type", request=as_text("[[1]]", {})),
        Attack("JSON nested 100000 deep", 400, "not valid JSON", request=as_text("[" * 100_000)),
        Attack("form field json malformed", 400, "not valid JSON", request={"data": {"json": "{"}}),
        Attack("JSON array body", 400, "JSON object", request=as_json([row])),
        Attack("unknown data kind", 400, "exactly one of", request=as_json({"data": {"foo": 1}})),
        Attack("strData", 400, "does not take text", request=as_json({"strData": "x"})),
        Attack("binData", 400, "got binData", request=as_json({"binData": "aGVsbG8="})),
        Attack("jsonData", 400, "expected a nested list", request=as_json({"jsonData": {"a": 1}})),
        Attack("ragged ndarray", 400, "rectangular", request=rows([row, [1]])),
        Attack(
            "tensor values short",
            400,
            "needs",
            request=as_json({"data": {"tensor": {"shape": [2, width], "values": row}}}),
        ),
        Attack("tftensor garbage", 400, "tftensor", request=as_json({"data": {"tftensor": {}}})),
        Attack("meta not an object", 400, "meta", request=as_json({"meta": [1], "data": {}})),
        Attack(
            "names not strings",
            400,
            "names",
            request=as_json({"data": {"names": [{}] * width, "ndarray": [row]}}),
        ),
        Attack(
            "unknown feature names",
            400,
            "feature names do not match",
            request=as_json({"data": {"names": ["?"] * width, "ndarray": [row]}}),
        ),
        Attack("rank 1", 400, "rank 1", request=rows(row)),
        Attack("rank 3", 400, "rank 3", request=rows([[row]])),
        Attack("empty batch", 400, "rank 1", request=rows([])),
        Attack("too many features", 400, f"expected {width} features", request=rows([[*row, 1]])),
        Attack("strings", 400, "expected numbers", request=rows([["a"] * width])),
        Attack("booleans", 400, "booleans", request=rows([[True] * width])),
        Attack("nulls", 400, "NoneType", request=rows([[None] * width])),
        Attack("NaN", 400, "NaN or Infinity", request=numbers("NaN", width)),
        Attack("Infinity", 400, "NaN or Infinity", request=numbers("-Infinity", width)),
        Attack("beyond float64", 400, "NaN or Infinity", request=numbers("1e999", width)),
        Attack("5000-digit integer", 400, "not valid JSON", request=numbers("9" * 5000, width)),
        Attack(
            "over max_batch_rows", 400, f"limit of {max_rows}", request=rows([row] * (max_rows + 1))
        ),
        Attack("router endpoint", 404, "is a model", path="/route", request=rows([row])),
        Attack(
            "transformer endpoint", 404, "is a model", path="/transform-input", request=rows([row])
        ),
        Attack("unknown URL", 404, "not found", method="GET", path="/nothing-here"),
        Attack("wrong method", 405, "not allowed", method="DELETE", path="/predict"),
        Attack("feedback not an object", 400, "JSON object", path=feedback, request=as_json([1])),
        Attack(
            "feedback with a ragged request",
            400,
            "rectangular",
            path=feedback,
            request=as_json({"request": {"data": {"ndarray": [row, [1]]}}}),
        ),
    ]


def error_info(code: int, body: bytes) -> str:
    """The message of Seldon's error shape; fails unless the body is exactly that shape."""
    status = json.loads(body)["status"]
    assert status["status"] == 1 and status["code"] == code, status
    assert status["reason"], status
    return status["info"]


def test_every_bad_request_gets_a_clear_client_error(server, loaded, reliability):
    spec = loaded.manifest.matrix
    tried = attacks(spec.width, loaded.settings.max_batch_rows)
    wrong = []
    server_errors = 0
    for attack in tried:
        answer = requests.request(
            attack.method, server.url + attack.path, timeout=30, **attack.request
        )
        server_errors += answer.status_code >= 500
        info = error_info(answer.status_code, answer.content)
        if answer.status_code != attack.status or attack.fragment.lower() not in info.lower():
            wrong.append(f"{attack.name}: {answer.status_code} {info[:200]}")
    reliability.add(
        "HTTP attacks", requests=len(tried), bad_inputs=len(tried), server_errors=server_errors
    )
    assert not wrong, "\n".join(wrong)
    good = requests.post(
        server.url + PREDICT, json={"data": {"ndarray": golden_rows(loaded.manifest, 0)}}
    )
    assert good.status_code == 200, "still serving after the attacks"


def raw_post(
    server, headers: dict[str, str], body: Any = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    try:
        connection.request(
            "POST", PREDICT, body=body, headers=headers, encode_chunked=body is not None
        )
        answer = connection.getresponse()
        return answer, answer.read()
    finally:
        connection.close()


def test_bodies_over_the_size_limit_get_413(server, loaded, reliability):
    limit = loaded.settings.max_request_bytes
    announced, body = raw_post(server, {**JSON, "Content-Length": str(limit + 1)})
    assert announced.status == 413
    assert f"exceeds the limit of {limit} bytes" in error_info(announced.status, body)
    chunked, body = raw_post(
        server, {**JSON, "Transfer-Encoding": "chunked"}, iter([b" " * (limit + 1)])
    )
    assert chunked.status == 413
    assert f"exceeds the limit of {limit} bytes" in error_info(chunked.status, body)
    reliability.add("HTTP attacks", requests=2, bad_inputs=2)


def test_grpc_bad_requests_get_invalid_argument_and_the_server_keeps_serving(
    server, loaded, reliability
):
    width = loaded.manifest.matrix.width
    bad = [
        ({"data": {"ndarray": [[1.0] * width, [1.0]]}}, "rectangular"),
        ({"strData": "x"}, "does not take text"),
        ({"data": {"tensor": {"shape": [2, width], "values": [1.0]}}}, "needs"),
        ({"data": {"ndarray": [[1.0] * (width + 1)]}}, f"expected {width} features"),
        ({"meta": {"puid": "x"}}, "no payload"),
    ]
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        for message, fragment in bad:
            with pytest.raises(grpc.RpcError) as caught:
                stub.Predict(json_to_seldon_message(message), timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, message
            assert fragment in caught.value.details()
        good = stub.Predict(
            json_to_seldon_message({"data": {"ndarray": golden_rows(loaded.manifest, 0)}}),
            timeout=30,
        )
    assert seldon_message_to_json(good)["data"]["names"] == loaded.class_names()
    reliability.add("gRPC attacks", requests=len(bad) + 1, bad_inputs=len(bad))


def test_float32_outputs_are_not_widened(server, loaded):
    rows = golden_rows(loaded.manifest, -1)
    answer = requests.post(server.url + PREDICT, json={"data": {"ndarray": rows}}, timeout=30)
    sent = json.loads(answer.text, parse_float=str)["data"]["ndarray"]
    for text in np.ravel(sent):
        shortest = str(np.float32(text)) if loaded.manifest.outputs[0].dtype == "float32" else text
        assert float(text) == float(shortest), f"{text} is not the shortest decimal {shortest}"


def refuse_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def test_outputs_beyond_float32_are_valid_json(server, loaded):
    """±3e38 fits float32, but the network's output overflows: it arrives as null, not NaN."""
    width = loaded.manifest.matrix.width
    answer = requests.post(
        server.url + PREDICT,
        json={"data": {"ndarray": [[3e38] * width, [-3e38] * width]}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    values = np.ravel(json.loads(answer.text, parse_constant=refuse_constant)["data"]["ndarray"])
    assert all(v is None or np.isfinite(v) for v in values)


def test_servers_listen_on_loopback_only(server):
    """Bound to 127.0.0.1, nothing answers on another address of the machine (127.0.0.2)."""
    for port in (server.http_port, server.grpc_port, server.metrics_port):
        assert set(listening_sockets(port).values()) == {"127.0.0.1"}, port
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.2", port), timeout=5),
        ):
            pass
