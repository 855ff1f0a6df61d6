"""The V2 protocol's datatypes and content types, read into the contract's checks.

In process: V2 tensors (JSON elements, typed gRPC contents, raw bytes) to arrays, V2 requests
to the inputs ``codecs.read_inputs`` takes, and the REST endpoints on Seldon's real Flask app
for the committed iris and loan models.
"""

from __future__ import annotations

import math
import re
from typing import get_args

import numpy as np
import pytest
from conftest import MODELS_DIR
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice

from wrappers import SklearnModel, codecs
from wrappers.contract import TableSpec, TensorDType, TensorSpec, TextSpec
from wrappers.contract.table import Column
from wrappers.errors import InvalidInput
from wrappers.protocols.v2 import dataplane
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2.datatypes import (
    CONTENTS_FIELD,
    NUMPY,
    OF_CONTRACT,
    from_contents,
    from_elements,
    from_raw,
    of_array,
    to_contents,
    to_raw,
)
from wrappers.server.v2_grpc import read_request

# ---- datatypes -------------------------------------------------------------------------------


def test_every_contract_dtype_has_a_v2_datatype_of_the_same_numpy_dtype():
    assert set(OF_CONTRACT) == set(get_args(TensorDType))
    for dtype, datatype in OF_CONTRACT.items():
        expected = np.dtype(object) if dtype == "string" else np.dtype(dtype)
        assert NUMPY[datatype] == expected
    assert set(CONTENTS_FIELD) == set(NUMPY) - {"FP16"}  # FP16 travels raw only


@pytest.mark.parametrize("datatype", [d for d in NUMPY if d != "BYTES"])
def test_of_array_names_the_datatype_of_each_dtype(datatype):
    assert of_array(np.zeros(2, dtype=NUMPY[datatype])) == datatype


def test_json_elements_take_the_datatype_and_shape():
    array = from_elements("INT32", [2, 2], [1, 2, 3, 4], "x")
    assert array.dtype == np.int32 and array.tolist() == [[1, 2], [3, 4]]
    nested = from_elements("FP32", [2, 2], [[0.5, 1], [2, 3]], "x")
    assert nested.dtype == np.float32 and nested.tolist() == [[0.5, 1.0], [2.0, 3.0]]
    assert from_elements("BOOL", [1, 2], [True, False], "x").dtype == bool
    half = from_elements("FP16", [2], [0.1, 70000], "x")
    assert half.dtype == np.float16 and half[0] == np.float16(0.1) and np.isinf(half[1])
    text = from_elements("BYTES", [2, 1], ["a", "é"], "x")
    assert text.dtype == object and text.tolist() == [["a"], ["é"]]


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("BOOL", [1, 0], "BOOL data holds true or false"),
        ("INT8", [1, 300], "INT8 data holds integers in [-128, 127]"),
        ("UINT8", [-1, 2], "UINT8 data holds integers in [0, 255]"),
        ("INT64", [1.5, 2], "INT64 data holds integers, got 1.5"),
        ("FP64", ["1", 2], "FP64 data holds numbers, got '1'"),
        ("FP64", [True, 2.0], "FP64 data holds numbers, got True"),
        ("BYTES", ["a", 1], "BYTES data holds strings, got 1"),
        ("FP32", [1.0], "shape [2] holds 2 elements, data has 1"),
        ("FP32", [[1.0], [1.0, 2.0]], "FP32 data holds numbers, got [1.0]"),
        ("FP64", [1.0, None], "FP64 data holds numbers, got None"),
        ("INT64", [True, 2], "INT64 data holds integers, got True"),
        ("COMPLEX", [1, 2], "datatype 'COMPLEX' is not one of"),
    ],
)
def test_json_elements_that_do_not_fit_are_refused(datatype, data, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        from_elements(datatype, [2], data, "x")


def test_null_elements_stay_missing_for_the_contract_to_judge():
    column = from_elements("FP64", [3], [1.5, None, 2], "income", nullable=True)
    assert column.tolist() == [1.5, None, 2.0]


@pytest.mark.parametrize("datatype", list(NUMPY))
def test_raw_and_typed_contents_round_trip(datatype):
    if datatype == "BYTES":
        array = np.array([[b"ab", "é".encode()], [b"", b"xyz"]], dtype=object)
    elif datatype == "BOOL":
        array = np.array([[True, False], [False, True]])
    else:
        array = np.array([[1, 2], [3, 100]], dtype=NUMPY[datatype])
    back = from_raw(datatype, [2, 2], to_raw(datatype, array), "x")
    assert back.dtype == array.dtype and back.tolist() == array.tolist()
    if datatype == "FP16":
        with pytest.raises(InvalidInput, match="FP16 has no typed contents"):
            from_contents(datatype, [2, 2], pb.InferTensorContents(), "x")
        return
    contents = pb.InferTensorContents()
    to_contents(datatype, array, contents)
    back = from_contents(datatype, [2, 2], contents, "x")
    assert back.dtype == array.dtype and back.tolist() == array.tolist()


def test_raw_contents_of_the_wrong_size_are_refused():
    with pytest.raises(InvalidInput, match="takes 32 raw bytes, got 31"):
        from_raw("FP64", [2, 2], b"\0" * 31, "x")
    with pytest.raises(InvalidInput, match="is cut short"):
        from_raw("BYTES", [1], b"\x05\0\0\0abc", "x")
    with pytest.raises(InvalidInput, match="holds 2 elements, raw data has 1"):
        from_raw("BYTES", [2], b"\x01\0\0\0a", "x")


def test_typed_int_contents_beyond_the_datatype_are_refused():
    contents = pb.InferTensorContents(int_contents=[1, 200])
    with pytest.raises(InvalidInput, match="INT8 data holds integers"):
        from_contents("INT8", [2], contents, "x")


# ---- content types into the contract ----------------------------------------------------------


def tensor(name: str, datatype: str, data, shape, content_type: str | None = None):
    array = from_elements(datatype, shape, data, name, nullable=True)
    return dataplane.Tensor(name, datatype, array, content_type)


def read(specs, *tensors, content_type=None):
    request = dataplane.InferRequest("m", list(tensors), content_type=content_type)
    wire = dataplane.to_request(specs, request)
    return codecs.read_inputs(specs, wire.values, wire.names)


def test_np_tensors_of_bool_and_fp16_specs():
    flags = TensorSpec(name="flags", dtype="bool", shape=[-1, 2])
    half = TensorSpec(name="half", dtype="float16", shape=[-1, 2])
    checked = read(
        [flags, half],
        tensor("flags", "BOOL", [True, False], [1, 2], "np"),
        tensor("half", "FP32", [0.5, 1.5], [1, 2], "np"),
    )
    assert checked["flags"].dtype == bool and checked["flags"].tolist() == [[True, False]]
    assert checked["half"].dtype == np.float16 and checked["half"].tolist() == [[0.5, 1.5]]


def test_bytes_for_a_string_tensor_are_read_as_utf8():
    spec = TensorSpec(name="words", dtype="string", shape=[-1])
    contents = pb.InferTensorContents(bytes_contents=["déjà".encode(), b"vu"])
    wire = dataplane.Tensor("words", "BYTES", from_contents("BYTES", [2], contents, "words"))
    assert read([spec], wire)["words"].tolist() == ["déjà", "vu"]
    bad = dataplane.Tensor("words", "BYTES", np.array([b"\xff"], dtype=object))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read([spec], bad)


def test_str_content_for_a_text_input():
    spec = TextSpec(name="text")
    checked = read([spec], tensor("text", "BYTES", ["good", "bad"], [2, 1], "str"))
    assert checked["text"] == ["good", "bad"]


def test_pd_request_reads_columns_into_a_table():
    spec = TableSpec(
        name="table",
        columns=[
            Column(name="age", type="int", nullable=True),
            Column(name="income", type="float", nullable=True),
            Column(name="city", type="category", categories=["Oslo", "Rome"]),
            Column(name="owns_home", type="bool"),
        ],
    )
    columns = [
        tensor("city", "BYTES", ["Rome", "Oslo"], [2, 1], "str"),
        tensor("age", "INT64", [30, 41], [2, 1]),
        tensor("income", "FP64", [None, 1000.5], [2, 1]),
        tensor("owns_home", "BOOL", [True, False], [2, 1]),
    ]
    for content_type in ("pd", None):  # the columns are found by name either way
        frame = read([spec], *columns, content_type=content_type)["table"]
        assert list(frame.columns) == ["age", "income", "city", "owns_home"]
        assert frame["age"].tolist() == [30, 41]
        assert math.isnan(frame["income"][0]) and frame["income"][1] == 1000.5
        assert frame["city"].tolist() == ["Rome", "Oslo"]
    unknown = tensor("city", "BYTES", ["Atlantis", "Oslo"], [2, 1], "str")
    with pytest.raises(InvalidInput, match="'Atlantis' is not one of the known categories"):
        read([spec], unknown, *columns[1:], content_type="pd")
    with pytest.raises(InvalidInput, match=r"missing \['owns_home'\]"):
        read([spec], *columns[:3], content_type="pd")


def test_pd_request_for_a_matrix_reorders_columns_by_name():
    spec = TensorSpec(name="x", dtype="float64", shape=[-1, 2], names=["a", "b"])
    checked = read(
        [spec],
        tensor("b", "FP64", [2.0, 4.0], [2]),
        tensor("a", "FP64", [1.0, 3.0], [2]),
        content_type="pd",
    )
    assert checked["x"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_one_input_is_the_models_one_input_whatever_its_name():
    spec = TensorSpec(name="input", dtype="float64", shape=[-1, 2])
    checked = read([spec], tensor("input-0", "FP64", [1, 2], [1, 2]), content_type="np")
    assert checked["input"].tolist() == [[1.0, 2.0]]


def test_names_must_match_for_several_inputs():
    specs = [
        TensorSpec(name="a", dtype="float32", shape=[-1, 1]),
        TensorSpec(name="b", dtype="float32", shape=[-1, 1]),
    ]
    given = [tensor("a", "FP32", [1], [1, 1]), tensor("c", "FP32", [1], [1, 1])]
    with pytest.raises(InvalidInput, match=r"missing \['b'\], unexpected \['c'\]"):
        read(specs, *given)


@pytest.mark.parametrize(
    ("request_type", "input_type", "message"),
    [
        ("base64", None, "content_type 'base64' is not one of np, pd, str"),
        (None, "pd", "content_type 'pd' is for the whole request"),
        (None, "pil_image", "content_type 'pil_image' is not one of"),
    ],
)
def test_unknown_content_types_are_refused(request_type, input_type, message):
    spec = TensorSpec(name="input", dtype="float64", shape=[-1, 1])
    with pytest.raises(InvalidInput, match=message):
        read([spec], tensor("input", "FP64", [1], [1, 1], input_type), content_type=request_type)


def test_grpc_request_with_raw_contents_and_parameters():
    request = pb.ModelInferRequest(model_name="m", model_version="2", id="r1")
    request.parameters["content_type"].string_param = "np"
    given = request.inputs.add(name="input", datatype="FP16", shape=[1, 2])
    request.raw_input_contents.append(np.array([0.5, 2], dtype="<f2").tobytes())
    request.outputs.add(name="out")
    read_back = read_request(request, 10_000)
    assert (read_back.model_version, read_back.id, read_back.outputs) == ("2", "r1", ["out"])
    assert read_back.content_type == "np"
    assert read_back.inputs[0].array.dtype == np.float16
    given.contents.fp32_contents.append(1.0)
    with pytest.raises(InvalidInput, match="contents and raw_input_contents together"):
        read_request(request, 10_000)


# ---- REST on Seldon's app ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    return model


@pytest.fixture
def app(iris):
    return get_rest_microservice(iris, SeldonMetrics()).test_client()


INFER = "/v2/models/sklearn-iris/infer"


def v2_body(rows, datatype="FP64", **extra):
    flat = [v for row in rows for v in row]
    shape = [len(rows), len(rows[0])]
    return {
        "inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": flat}],
        **extra,
    }


def test_rest_answer_equals_seldons(app):
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    seldon = app.post("/api/v1.0/predictions", json={"data": {"ndarray": rows}}).get_json()
    answer = app.post(INFER, json=v2_body(rows, id="abc"))
    assert answer.status_code == 200
    body = answer.get_json()
    (output,) = body["outputs"]
    assert body["id"] == "abc" and body["model_version"] == "1"
    assert output["name"] == "predict_proba" and output["datatype"] == "FP64"
    assert output["shape"] == [2, 3]
    assert np.reshape(output["data"], (2, 3)).tolist() == seldon["data"]["ndarray"]
    versioned = app.post("/v2/models/sklearn-iris/versions/1/infer", json=v2_body(rows))
    assert versioned.get_json()["outputs"] == body["outputs"]


@pytest.mark.parametrize(
    "rows",
    [[[1.0, 2.0, 3.0]], [[float("nan"), 1.0, 1.0, 1.0]], [[1e999, 1.0, 1.0, 1.0]]],
    ids=["width", "nan", "infinity"],
)
def test_rest_refusals_carry_seldons_message(app, rows):
    seldon = app.post("/api/v1.0/predictions", json={"data": {"ndarray": rows}})
    answer = app.post(INFER, json=v2_body(rows))
    assert (seldon.status_code, answer.status_code) == (400, 400)
    assert answer.get_json() == {"error": seldon.get_json()["status"]["info"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the request has no body"),
        (b"{", "the body is not valid JSON"),
        (b'{"inputs": []}', "inputs: List should have at least 1 item"),
        (b'{"inputs": [{"name": "input", "shape": ["1"], "datatype": "FP64", "data": [1]}]}',
         "inputs.0.shape.0: Input should be a valid integer"),
        (b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4],'
         b' "parameters": {"binary_data_size": 32}}]}', "data and binary_data_size together"),
    ],
)  # fmt: skip
def test_rest_refuses_what_is_no_v2_request(app, body, message):
    answer = app.post(INFER, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


def test_rest_errors_for_unknown_models_paths_and_methods(app):
    cases = [
        ("post", "/v2/models/other/infer", 404, "unknown model 'other'"),
        ("post", "/v2/models/sklearn-iris/versions/7/infer", 404, "no version '7'"),
        ("get", "/v2/models/other", 404, "unknown model 'other'"),
        ("get", "/v2/models/sklearn-iris/versions/7/ready", 404, "no version '7'"),
        ("get", "/v2/nowhere", 404, "/v2/nowhere is not a V2 endpoint"),
        ("get", INFER, 405, "GET is not allowed"),
        ("post", "/v2/models/sklearn-iris", 405, "POST is not allowed"),
    ]
    for method, path, status, message in cases:
        answer = getattr(app, method)(path, json=v2_body([[1.0, 2.0, 3.0, 4.0]]))
        assert answer.status_code == status, path
        assert message in answer.get_json()["error"], path


def test_rest_body_over_the_limit_is_a_413_in_v2_shape(iris, monkeypatch):
    monkeypatch.setenv("MODELREPO_MAX_REQUEST_BYTES", "100")
    small = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    client = get_rest_microservice(small, SeldonMetrics()).test_client()
    answer = client.post(INFER, json=v2_body([[1.0, 2.0, 3.0, 4.0]] * 20))
    assert answer.status_code == 413
    assert "exceeds the limit of 100 bytes" in answer.get_json()["error"]


def test_rest_requested_outputs_and_unknown_ones(app):
    asked = v2_body([[5.1, 3.5, 1.4, 0.2]], outputs=[{"name": "predict_proba"}])
    assert [o["name"] for o in app.post(INFER, json=asked).get_json()["outputs"]] == [
        "predict_proba"
    ]
    unknown = v2_body([[5.1, 3.5, 1.4, 0.2]], outputs=[{"name": "predict"}])
    answer = app.post(INFER, json=unknown)
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": "unknown outputs ['predict']: this model answers ['predict_proba']"
    }


def test_rest_not_ready_is_503_but_live(iris):
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")  # never loaded
    client = get_rest_microservice(model, SeldonMetrics()).test_client()
    assert client.get("/v2/health/live").status_code == 200
    for path in ("/v2/health/ready", "/v2/models/sklearn-iris/ready"):
        answer = client.get(path)
        assert answer.status_code == 503
        assert "not ready: model not loaded yet" in answer.get_json()["error"]
    assert client.post(INFER, json=v2_body([[5.1, 3.5, 1.4, 0.2]])).status_code == 503


def test_table_metadata_lists_its_columns_with_pd():
    model = SklearnModel(model_dir=MODELS_DIR / "loan-pipeline")
    client = get_rest_microservice(model, SeldonMetrics()).test_client()
    body = client.get("/v2/models/loan-pipeline").get_json()
    assert body["parameters"] == {"content_type": "pd"}
    described = {t["name"]: (t["datatype"], t["shape"]) for t in body["inputs"]}
    assert described == {
        "age": ("INT64", [-1, 1]),
        "income": ("FP64", [-1, 1]),
        "city": ("BYTES", [-1, 1]),
        "employment": ("BYTES", [-1, 1]),
        "owns_home": ("BOOL", [-1, 1]),
    }


# ---- gRPC on a real in-process server -----------------------------------------------------------


@pytest.fixture(scope="module")
def grpc_stub(iris):
    from concurrent import futures

    import grpc

    from modelrepo.local.process import free_port
    from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
    from wrappers.server.v2_grpc import InferenceServicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(iris), server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield pb_grpc.GRPCInferenceServiceStub(channel)
    channel.close()
    server.stop(None)


def test_grpc_fp16_raw_input_answers_raw_as_the_model_does(grpc_stub, iris):
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float16)
    request = pb.ModelInferRequest(model_name="sklearn-iris")
    request.inputs.add(name="input", datatype="FP16", shape=[2, 4])
    request.raw_input_contents.append(rows.astype("<f2").tobytes())
    reply = grpc_stub.ModelInfer(request, timeout=30)
    (output,) = reply.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("predict_proba", "FP64", [2, 3])
    answer = from_raw("FP64", [2, 3], reply.raw_output_contents[0], "predict_proba")
    assert answer.tolist() == iris.predict(rows.astype(np.float64)).tolist()


def test_grpc_refusals_carry_the_contracts_message(grpc_stub):
    import grpc

    request = pb.ModelInferRequest(model_name="sklearn-iris")
    given = request.inputs.add(name="input", datatype="BOOL", shape=[1, 4])
    given.contents.bool_contents.extend([True, False, True, False])
    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.ModelInfer(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "input: expected numbers (float64), got booleans such as True"
    )
    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.ModelMetadata(pb.ModelMetadataRequest(name="sklearn-iris", version="2"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
