"""The V2 REST binary tensor extension on Seldon's real Flask app and on the real microservice.

Binary requests and answers must carry exactly what the JSON ones carry; every malformed binary
body (headers, sizes, shapes) is a 400 with its reason, never a 500, also through the real HTTP
worker. tritonclient's binary mode is driven in ``test_v2_clients.py``.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import requests
from conftest import MODELS_DIR
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice

from modelrepo.local.process import Microservice
from wrappers import SklearnModel
from wrappers.protocols.v2.binary import HEADER

INFER = "/v2/models/sklearn-iris/infer"
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])


@pytest.fixture(scope="module")
def app():
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    return get_rest_microservice(model, SeldonMetrics()).test_client()


def binary_body(
    raw: bytes, shape=(2, 4), datatype="FP64", size: object = None, **extra
) -> tuple[bytes, dict[str, str]]:
    """One binary input ``raw`` after the JSON header; ``size`` overrides its declared size."""
    declared = len(raw) if size is None else size
    header = {
        "inputs": [
            {
                "name": "input",
                "shape": list(shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": declared},
            }
        ],
        **extra,
    }
    text = json.dumps(header).encode()
    return text + raw, {HEADER: str(len(text)), "Content-Type": "application/octet-stream"}


def read_binary(answer) -> tuple[dict, dict[str, np.ndarray]]:
    """A binary answer's JSON header and its binary outputs as float64 arrays."""
    length = int(answer.headers[HEADER])
    header = json.loads(answer.data[:length])
    arrays, offset = {}, length
    for output in header["outputs"]:
        size = output["parameters"].get("binary_data_size")
        if size is not None:
            raw = answer.data[offset : offset + size]
            arrays[output["name"]] = np.frombuffer(raw, "<f8").reshape(output["shape"])
            offset += size
    assert offset == len(answer.data)
    return header, arrays


def json_answer(app) -> np.ndarray:
    body = {
        "inputs": [
            {"name": "input", "shape": [2, 4], "datatype": "FP64", "data": ROWS.ravel().tolist()}
        ]
    }
    answer = app.post(INFER, json=body)
    assert answer.status_code == 200
    (output,) = answer.get_json()["outputs"]
    return np.reshape(output["data"], output["shape"])


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
def test_binary_input_answers_as_json_does(app, datatype):
    dtype = "<f8" if datatype == "FP64" else "<f4"
    body, headers = binary_body(ROWS.astype(dtype).tobytes(), datatype=datatype)
    answer = app.post(INFER, data=body, headers=headers)
    assert answer.status_code == 200, answer.data
    assert HEADER not in answer.headers and answer.mimetype == "application/json"
    (output,) = answer.get_json()["outputs"]
    expected = json_answer(app) if datatype == "FP64" else None
    got = np.reshape(output["data"], output["shape"])
    if expected is not None:
        assert np.array_equal(got, expected)
    else:
        rows = ROWS.astype(np.float32).astype(np.float64).ravel().tolist()
        body = {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": rows}]}
        assert answer.get_json() == app.post(INFER, json=body).get_json()


def test_binary_answer_holds_the_json_answers_floats(app):
    expected = json_answer(app)
    body, headers = binary_body(ROWS.tobytes(), id="r1", parameters={"binary_data_output": True})
    answer = app.post(INFER, data=body, headers=headers)
    assert answer.status_code == 200, answer.data
    assert answer.mimetype == "application/octet-stream"
    header, arrays = read_binary(answer)
    assert header["id"] == "r1" and header["model_name"] == "sklearn-iris"
    (output,) = header["outputs"]
    assert "data" not in output and output["parameters"]["binary_data_size"] == 2 * 3 * 8
    assert np.array_equal(arrays["predict_proba"], expected)


def test_an_outputs_own_choice_overrides_the_requests(app):
    asked = [{"name": "predict_proba", "parameters": {"binary_data": False}}]
    body, headers = binary_body(
        ROWS.tobytes(), parameters={"binary_data_output": True}, outputs=asked
    )
    answer = app.post(INFER, data=body, headers=headers)
    assert answer.status_code == 200 and HEADER not in answer.headers
    json_body = {
        "inputs": [
            {"name": "input", "shape": [2, 4], "datatype": "FP64", "data": ROWS.ravel().tolist()}
        ]
    }
    plain = {"name": "predict_proba", "parameters": {"binary_data": True}}
    raw = app.post(INFER, json={**json_body, "outputs": [plain]})
    assert raw.status_code == 200 and raw.mimetype == "application/octet-stream"
    assert np.array_equal(read_binary(raw)[1]["predict_proba"], json_answer(app))


RAW = ROWS.tobytes()


def hostile_cases() -> list[tuple[str, bytes, dict[str, str], str]]:
    """(label, body, headers, what the 400 says)."""
    good, headers = binary_body(RAW)
    length = int(headers[HEADER])
    cases = [
        ("header not a number", good, {HEADER: "ten"}, "is a byte count"),
        ("negative header", good, {HEADER: "-5"}, "is a byte count"),
        ("header beyond the body", good, {HEADER: str(len(good) + 1)}, "bytes of JSON, the body"),
        ("header of 5000 digits", good, {HEADER: "9" * 5000}, "bytes of JSON, the body"),
        ("header of leading zeros", good, {HEADER: "0" * 5000 + str(length)}, ""),
        ("header cuts the JSON", good, {HEADER: str(length - 3)}, "not valid JSON"),
        ("header of zero", good, {HEADER: "0"}, "not valid JSON"),
        ("size over the body", *binary_body(RAW, size=len(RAW) + 8), "only 64 bytes"),
        ("size under the shape", *binary_body(RAW[:32], size=32), "takes 64 raw bytes, got 32"),
        ("size over the shape", *binary_body(RAW + RAW, size=128), "takes 64 raw bytes, got 128"),
        ("bytes left over", good + b"\0" * 8, headers, "8 bytes of binary data follow"),
        ("size a string", *binary_body(RAW, size="64"), "is a byte count"),
        ("size true", *binary_body(RAW, size=True), "is a byte count"),
        ("size negative", *binary_body(RAW, size=-1), "is a byte count"),
        ("size a float", *binary_body(RAW, size=64.0), "is a byte count"),
        ("shape over the limit", *binary_body(RAW, shape=(10**12, 4)), "over the limit"),
        ("shape not integers", *binary_body(RAW, shape=("2", 4)), "valid integer"),
        ("datatype unknown", *binary_body(RAW, datatype="FP128"), "is not one of"),
        ("BYTES cut short", *binary_body(struct.pack("<I", 99) + b"abc", (1, 1), "BYTES"),
         "is cut short"),
        ("BYTES length cut", *binary_body(b"\1\0", (1, 1), "BYTES"), "inside an element's"),
        ("BYTES over the shape", *binary_body(struct.pack("<I", 0) * 3, (1, 1), "BYTES"),
         "holds 1 elements, raw data has more"),
        ("binary_data_output not a bool",
         *binary_body(RAW, parameters={"binary_data_output": "yes"}), "true or false"),
        ("binary_data not a bool",
         *binary_body(RAW, outputs=[{"name": "predict_proba", "parameters": {"binary_data": 1}}]),
         "true or false"),
    ]  # fmt: skip
    header_alone = json.dumps(
        {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64",
                     "parameters": {"binary_data_size": 64}}]}
    ).encode()  # fmt: skip
    cases.append(("size without the header", header_alone, {}, "header is missing"))
    cases.append(("binary without the header", header_alone + RAW, {}, "not valid JSON"))
    both = json.loads(header_alone)
    both["inputs"][0]["data"] = ROWS.ravel().tolist()
    cases.append(("data and size", json.dumps(both).encode(), {}, "data and binary_data_size"))
    neither = json.loads(header_alone)
    del neither["inputs"][0]["parameters"]
    cases.append(("no data", json.dumps(neither).encode(), {}, "no data"))
    return cases


@pytest.mark.parametrize(("label", "body", "headers", "message"), hostile_cases())
def test_malformed_binary_bodies_are_400s(app, label, body, headers, message):
    answer = app.post(INFER, data=body, headers=headers)
    if label == "header of leading zeros":  # the same count, written long: served
        assert answer.status_code == 200, answer.data
        return
    assert answer.status_code == 400, (label, answer.data)
    assert message in answer.get_json()["error"], label


def test_the_real_server_serves_and_refuses_binary_bodies(tmp_path, monkeypatch):
    """Through the real HTTP worker: a binary request and answer, hostile headers as 400s, and
    a binary body over ``max_request_bytes`` as a 413."""
    monkeypatch.setenv("MODELREPO_MAX_REQUEST_BYTES", "4096")
    with Microservice(MODELS_DIR / "sklearn-iris", log_path=tmp_path / "log") as service:
        url = service.url + INFER
        body, headers = binary_body(RAW, parameters={"binary_data_output": True})
        answer = requests.post(url, data=body, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        length = int(answer.headers[HEADER])
        probabilities = np.frombuffer(answer.content[length:], "<f8").reshape(2, 3)
        assert np.allclose(probabilities.sum(axis=1), 1.0)
        for label, hostile, hostile_headers, message in hostile_cases():
            if label == "header of leading zeros":
                continue
            refused = requests.post(url, data=hostile, headers=hostile_headers, timeout=30)
            assert refused.status_code == 400, (label, refused.text)
            assert message in refused.json()["error"], label
        big, big_headers = binary_body(np.zeros((200, 4)).tobytes(), shape=(200, 4))
        refused = requests.post(url, data=big, headers=big_headers, timeout=30)
        assert refused.status_code == 413
        assert "exceeds the limit of 4096 bytes" in refused.text  # said from the head alone
