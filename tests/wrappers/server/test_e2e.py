"""End to end: the real seldon-core-microservice serves each model over REST and gRPC."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import requests
from conftest import MODELS_DIR, golden_rows
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice

pytestmark = pytest.mark.e2e


def ndarray_request(model, rows) -> dict:
    return {"data": {"names": model.manifest.matrix.names, "ndarray": np.asarray(rows).tolist()}}


def golden_batch(model) -> list[list[float]]:
    return golden_rows(model.manifest, -1)


@pytest.mark.parametrize("path", ["/api/v1.0/predictions", "/predict"])
def test_rest_predictions_equal_in_process_predictions(server, loaded, path):
    rows = golden_batch(loaded)
    answer = requests.post(server.url + path, json=ndarray_request(loaded, rows), timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    np.testing.assert_allclose(body["data"]["ndarray"], loaded.predict(rows), rtol=1e-6)
    assert body["data"]["names"] == loaded.class_names()
    assert body["meta"]["tags"]["model_name"] == loaded.manifest.name


def test_rest_answers_without_feature_names(server, loaded):
    rows = golden_rows(loaded.manifest, 0)
    answer = requests.post(server.url + "/predict", json={"data": {"ndarray": rows}}, timeout=30)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["data"]["ndarray"], loaded.predict(rows), rtol=1e-6)


def test_grpc_predict_equals_in_process_predictions(server, loaded):
    rows = golden_batch(loaded)
    with grpc.insecure_channel(server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = prediction_pb2_grpc.ModelStub(channel)
        reply = stub.Predict(json_to_seldon_message(ndarray_request(loaded, rows)), timeout=30)
    body = seldon_message_to_json(reply)
    np.testing.assert_allclose(body["data"]["ndarray"], loaded.predict(rows), rtol=1e-6)
    assert body["data"]["names"] == loaded.class_names()


def test_grpc_bad_request_names_the_problem(server, loaded):
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(json_to_seldon_message({"data": {"ndarray": [[1.0, 2.0]]}}), timeout=30)
    assert f"expected {loaded.manifest.matrix.width} features per row" in caught.value.details()


def test_metadata_describes_the_model(server, loaded):
    metadata = requests.get(server.url + "/metadata", timeout=10).json()
    assert metadata == loaded.init_metadata()


def test_wrong_shaped_request_gets_400_with_a_message(server, loaded):
    width = loaded.manifest.matrix.width
    answer = requests.post(
        server.url + "/predict", json={"data": {"ndarray": [[1.0] * (width + 1)]}}
    )
    assert answer.status_code == 400
    info = answer.json()["status"]["info"]
    assert f"expected {width} features per row" in info and f"got {width + 1}" in info


def test_non_numeric_request_gets_400(server, loaded):
    width = loaded.manifest.matrix.width
    answer = requests.post(server.url + "/predict", json={"data": {"ndarray": [["x"] * width]}})
    assert answer.status_code == 400
    assert "expected numbers" in answer.json()["status"]["info"]


def test_health_status_reports_ready(server, loaded):
    answer = requests.get(server.url + "/health/status", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["jsonData"]["status"] == "ready"


def test_wrapper_class_runs_directly_with_a_model_dir_parameter(tmp_path):
    parameters = f'[{{"name":"model_dir","value":"{MODELS_DIR / "sklearn-iris"}","type":"STRING"}}]'
    service = Microservice(
        tmp_path,
        user_class="wrappers.SklearnModel",
        extra_args=["--parameters", parameters],
        log_path=tmp_path / "log",
    )
    with service:
        answer = requests.post(
            service.url + "/api/v1.0/predictions",
            json={"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}},
            timeout=30,
        )
    assert answer.json()["data"]["names"] == ["setosa", "versicolor", "virginica"]
    assert np.argmax(answer.json()["data"]["ndarray"][0]) == 0
