"""The metrics the real microservice exposes: the model latency histogram, requests by status
code, labelled with the manifest's name and version."""

from __future__ import annotations

import math
import time
from collections import defaultdict

import grpc
import pytest
import requests
from conftest import MODELS_DIR
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from modelrepo.local.process import Microservice
from wrappers import Manifest
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc

pytestmark = pytest.mark.e2e

MODEL = "sklearn-iris"
GOOD = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}
BAD = {"data": {"ndarray": [[5.1, 3.5]]}}
V2_GOOD = {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64",
                       "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}  # fmt: skip
V2_BAD = {"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [5.1, 3.5]}]}
#: what the Seldon operator sets for a model container
METRICS_PATH = "/prometheus"


def scrape(service: Microservice) -> list:
    url = f"http://127.0.0.1:{service.metrics_port}{METRICS_PATH}"
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    return list(text_string_to_metric_families(answer.text))


def samples(families: list, name: str) -> list:
    return [s for f in families for s in f.samples if s.name == name]


def request_counts(families: list) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for sample in samples(families, "modelrepo_requests_total"):
        counts[sample.labels["transport"], sample.labels["code"]] += sample.value
    return dict(counts)


def v2_request(model: str, body: dict) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model)
    for given in body["inputs"]:
        tensor = request.inputs.add(
            name=given["name"], datatype=given["datatype"], shape=given["shape"]
        )
        tensor.contents.fp64_contents.extend(given["data"])
    return request


def test_latency_histogram_and_status_counts_on_the_metrics_port(tmp_path):
    manifest = Manifest.read(MODELS_DIR / MODEL)
    # Seldon's protocol: 7 + 3 over REST, 2 + 1 over gRPC; V2: 2 + 1 over REST, 1 + 1 over gRPC
    sent = {
        ("rest", "200"): 9,
        ("rest", "400"): 4,
        ("grpc", "OK"): 3,
        ("grpc", "INVALID_ARGUMENT"): 2,
    }
    predictions = sent["rest", "200"] + sent["grpc", "OK"]
    env = {"PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH}
    log = tmp_path / "server.log"
    with Microservice(MODELS_DIR / MODEL, threads=2, env=env, log_path=log) as service:
        url = service.url + "/api/v1.0/predictions"
        for body, times, status in ((GOOD, 7, 200), (BAD, 3, 400)):
            for _ in range(times):
                assert requests.post(url, json=body, timeout=30).status_code == status
        v2_url = f"{service.url}/v2/models/{manifest.name}/infer"
        for body, times, status in ((V2_GOOD, 2, 200), (V2_BAD, 1, 400)):
            for _ in range(times):
                assert requests.post(v2_url, json=body, timeout=30).status_code == status
        with grpc.insecure_channel(service.grpc_target) as channel:
            stub = prediction_pb2_grpc.ModelStub(channel)
            for _ in range(2):
                stub.Predict(json_to_seldon_message(GOOD), timeout=30)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Predict(json_to_seldon_message(BAD), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            v2 = pb_grpc.GRPCInferenceServiceStub(channel)
            v2.ModelInfer(v2_request(manifest.name, V2_GOOD), timeout=30)
            with pytest.raises(grpc.RpcError) as refused:
                v2.ModelInfer(v2_request(manifest.name, V2_BAD), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        deadline = time.monotonic() + 30  # workers share their metrics every second
        families = scrape(service)
        while request_counts(families) != sent and time.monotonic() < deadline:
            time.sleep(0.2)
            families = scrape(service)

    assert request_counts(families) == sent
    counts = samples(families, "modelrepo_model_latency_seconds_count")
    assert sum(s.value for s in counts) == predictions
    assert sum(s.value for s in samples(families, "modelrepo_rows_predicted_total")) == (
        2 * predictions
    )
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples(families, "modelrepo_model_latency_seconds_bucket"):
        buckets[sample.labels["worker_id"]].append((float(sample.labels["le"]), sample.value))
    assert len(buckets) == 2, "the REST worker and the gRPC worker each expose theirs"
    for worker, series in buckets.items():
        bounds = [bound for bound, _ in series]
        cumulative = [value for _, value in series]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf
        assert cumulative == sorted(cumulative), "buckets are cumulative"
        (total,) = [s.value for s in counts if s.labels["worker_id"] == worker]
        assert cumulative[-1] == total
        assert cumulative[0] < total, "a model call takes more than the first bucket's 10 µs"
    for family in families:
        if family.name.startswith("modelrepo_"):
            for sample in family.samples:
                assert sample.labels["model_name"] == manifest.name
                assert sample.labels["model_version"] == manifest.version
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "one family per metric name"
