"""Envelope checks and output encoding, in-process: what Seldon would otherwise turn into a 500."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import MODELS_DIR
from seldon_core.utils import json_to_seldon_message

from wrappers import InvalidInput, SklearnModel
from wrappers.protocols.seldon.envelope import check_message, check_proto

GOOD = {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}, "meta": {"puid": "x"}}

BAD_MESSAGES = [
    ([1, 2], "expected the request to be a JSON object"),
    ({"strData": 5}, "expected strData to be a string"),
    ({"binData": "aGVsbG8="}, "got binData"),
    ({"jsonData": {"a": 1}, "strData": "x"}, "got jsonData, strData"),
    ({}, "the request holds no payload"),
    ({"data": 5}, "expected data to be an object"),
    ({"data": {"foo": 1}}, "exactly one of ndarray, tensor, tftensor, got keys ['foo']"),
    ({"data": {"ndarray": [[1]], "tensor": {}}}, "exactly one of"),
    ({"data": {"ndarray": [[1, 2], [3]]}}, "data.ndarray to be a rectangular array"),
    ({"data": {"ndarray": 5}}, "data.ndarray to be a list of rows"),
    ({"data": {"tensor": {"shape": [1, 2]}}}, '"values"'),
    ({"data": {"tensor": {"shape": [2, 2], "values": [1, 2]}}}, "has 2 values"),
    ({"data": {"tensor": {"shape": [], "values": [1]}}}, "non-empty list"),
    ({"data": {"tensor": {"shape": [-1, 2], "values": [1, 2]}}}, "non-negative"),
    ({"data": {"tftensor": {"foo": 1}}}, "cannot read data.tftensor"),
    ({"data": {"names": [{}], "ndarray": [[1]]}}, "data.names to be a list of strings"),
    ({"data": {"names": "ab", "ndarray": [[1]]}}, "data.names to be a list of strings"),
    ({"meta": [], "data": {"ndarray": [[1]]}}, "expected meta to be an object"),
    ({"meta": {"tags": []}, "data": {"ndarray": [[1]]}}, "meta.tags to be a JSON object"),
    ({"meta": {"metrics": {}}, "data": {"ndarray": [[1]]}}, "meta.metrics to be a JSON array"),
    ({"meta": {"tags": {"t": math.nan}}, "data": {"ndarray": [[1]]}}, "NaN or Infinity"),
]


def test_a_well_formed_message_passes():
    check_message(GOOD, 10_000)
    check_message({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}, 10_000)
    check_proto(json_to_seldon_message(GOOD), 10_000)


@pytest.mark.parametrize(("message", "fragment"), BAD_MESSAGES)
def test_malformed_messages_are_refused_with_the_reason(message, fragment):
    with pytest.raises(InvalidInput) as caught:
        check_message(message, 10_000)
    assert fragment in caught.value.message
    assert caught.value.to_dict()["status"] == {
        "status": 1,
        "info": caught.value.message,
        "code": 400,
        "reason": "MICROSERVICE_BAD_DATA",
    }


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ({"binData": "aGVsbG8="}, "got binData"),
        ({"data": {"ndarray": [[1, 2], [3]]}}, "rectangular"),
        ({"data": {"tensor": {"shape": [3, 2], "values": [1, 2]}}}, "has 2 values"),
        ({"meta": {"puid": "x"}}, "holds no payload"),
    ],
)
def test_malformed_grpc_messages_are_refused(message, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        check_proto(json_to_seldon_message(message), 10_000)


@pytest.fixture(scope="module")
def iris() -> SklearnModel:
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    return model


def test_a_matrix_model_takes_jsondata_rows_and_refuses_text(iris):
    rows = [[5.1, 3.5, 1.4, 0.2]]
    answer = iris.predict_raw({"jsonData": rows})
    assert (
        answer["data"]["ndarray"]
        == iris.predict_raw({"data": {"ndarray": rows}})["data"]["ndarray"]
    )
    with pytest.raises(InvalidInput, match="does not take text"):
        iris.predict_raw({"strData": "5.1,3.5,1.4,0.2"})
    with pytest.raises(InvalidInput, match=r"expected a nested list of shape \[-1, 4\], got dict"):
        iris.predict_raw({"jsonData": {"sepal": 5.1}})


@pytest.fixture(scope="module")
def unloaded() -> SklearnModel:
    return SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")


def test_float32_outputs_are_sent_as_their_shortest_decimal(unloaded):
    output = np.array([[0.1, 1 / 3, 1e-7, 3.4e38]], dtype=np.float32)
    encoded = unloaded._encode(output)
    assert json.dumps(encoded.tolist()) == "[[0.1, 0.33333334, 1e-07, 3.4e+38]]"
    assert (encoded.astype(np.float32) == output).all(), "the float32 values are unchanged"


def test_non_finite_outputs_become_null_and_are_counted(unloaded):
    unloaded._last.rows, unloaded._last.millis = 1, 0.0
    encoded = unloaded._encode(np.array([[0.5, np.nan, np.inf, -np.inf]], np.float32))
    assert json.dumps(encoded.tolist(), allow_nan=False) == "[[0.5, null, null, null]]"
    metrics = {m["key"]: m["value"] for m in unloaded.metrics()}
    assert metrics["modelrepo_nonfinite_outputs"] == 3


@pytest.mark.parametrize(
    "output", [np.array([[1, 2]]), np.array([["setosa"]]), np.array([[0.1]], np.float64)]
)
def test_other_outputs_pass_unchanged(unloaded, output):
    encoded = unloaded._encode(output)
    assert encoded.dtype == output.dtype
    assert encoded.tolist() == output.tolist()
