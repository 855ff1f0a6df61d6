"""The JSON fast path answers exactly what Seldon's generic path answers, in Seldon's real app."""

from __future__ import annotations

import json

import pytest
from conftest import MODELS_DIR, WRAPPER_OF
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice

PATH = "/api/v1.0/predictions"


@pytest.fixture(scope="module")
def seldon_metrics():
    return SeldonMetrics()


def client(name: str, fast: bool, seldon_metrics: SeldonMetrics, monkeypatch):
    monkeypatch.setenv("MODELREPO_FAST_JSON", str(fast).lower())
    model = WRAPPER_OF[name](model_dir=MODELS_DIR / name)
    model.load()
    return get_rest_microservice(model, seldon_metrics).test_client()


def requests_for(name: str) -> list[dict]:
    rows = json.loads((MODELS_DIR / name / "request.json").read_text())["data"]["ndarray"]
    width = len(rows[0])
    return [
        json.loads((MODELS_DIR / name / "request.json").read_text()),
        {"data": {"ndarray": rows * 3}},
        {"data": {"tensor": {"shape": [2, width], "values": rows[0] * 2}}},
        {"data": {"ndarray": rows}, "meta": {"puid": "abc123", "tags": {"caller": "x"}}},
        {"data": {"ndarray": [[1.0] * (width + 1)]}},
        {"data": {"ndarray": [["a"] * width]}},
        {"jsonData": {"anything": 1}},
    ]


@pytest.mark.parametrize("name", sorted(WRAPPER_OF))
def test_fast_path_answers_like_the_generic_path(name, seldon_metrics, monkeypatch):
    fast = client(name, True, seldon_metrics, monkeypatch)
    generic = client(name, False, seldon_metrics, monkeypatch)
    for body in requests_for(name):
        a, b = fast.post(PATH, json=body), generic.post(PATH, json=body)
        assert (a.status_code, timeless(a.get_json())) == (b.status_code, timeless(b.get_json()))


def timeless(answer: dict) -> dict:
    """The answer with the measured latency (which differs from call to call) blanked."""
    for metric in answer.get("meta", {}).get("metrics", []):
        if metric["key"] == "modelrepo_model_latency_seconds":
            assert metric["value"] > 0
            metric["value"] = "measured"
    return answer


@pytest.mark.parametrize("fast", [True, False])
def test_request_metrics_reach_seldon_on_both_paths(fast, monkeypatch):
    seldon_metrics = SeldonMetrics()
    app = client("torch-classifier", fast, seldon_metrics, monkeypatch)
    body = json.loads((MODELS_DIR / "torch-classifier" / "request.json").read_text())
    for _ in range(3):
        assert app.post(PATH, json=body).status_code == 200
    recorded = {
        key[1]: value for data in seldon_metrics.data.values() for key, value in data.items()
    }
    assert recorded["modelrepo_rows_predicted"]["value"] == 3
    counts, total = recorded["modelrepo_model_latency_seconds"]["value"]
    assert sum(counts) == 3
    assert total > 0


def test_a_tensor_whose_values_do_not_fit_its_shape_is_a_client_error(seldon_metrics, monkeypatch):
    app = client("sklearn-iris", True, seldon_metrics, monkeypatch)
    answer = app.post(PATH, json={"data": {"tensor": {"shape": [3, 4], "values": [1.0]}}})
    assert answer.status_code == 400  # Seldon's generic path answers 500 here
    assert "shape [3, 4] needs 12" in answer.get_json()["status"]["info"]
