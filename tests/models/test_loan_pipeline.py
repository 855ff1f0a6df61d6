"""loan-pipeline: a scikit-learn Pipeline over a DataFrame of numeric, string and boolean columns,
served as a table input. Answers are compared with the Pipeline's own ``predict_proba`` on a
DataFrame, from a model retrained here by the directory's ``train()``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import grpc
import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from conftest import MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.contract import TableSpec

MODEL_DIR = MODELS_DIR / "loan-pipeline"
COLUMNS = ["age", "income", "city", "employment", "owns_home"]
CLASSES = ["approved", "rejected"]
#: applications the sample file does not hold; one without an income (the imputer fills it)
RECORDS: list[dict[str, Any]] = [
    {"age": 29, "income": 41250.5, "city": "Lisbon", "employment": "employed", "owns_home": True},
    {"age": 61, "income": None, "city": "Oslo", "employment": "self-employed", "owns_home": False},
    {"age": 45, "income": 12000.0, "city": "Rome", "employment": "unemployed", "owns_home": False},
    {"age": 18, "income": 95000, "city": "Berlin", "employment": "employed", "owns_home": True},
    {"age": 37, "income": 30500.25, "city": "Oslo", "employment": "unemployed", "owns_home": True},
]
BAD_REQUESTS = {
    "missing column": (
        [{k: v for k, v in r.items() if k != "owns_home"} for r in RECORDS],
        ["owns_home", "missing"],
    ),
    "unexpected column": ([{**r, "zip": "1000"} for r in RECORDS], ["zip", "unexpected"]),
    "string in age": ([{**RECORDS[0], "age": "forty"}], ["'age'", "whole number", "'forty'"]),
    "null city": ([{**RECORDS[0], "city": None}], ["'city'", "not nullable"]),
    "unknown category": ([{**RECORDS[0], "city": "Atlantis"}], ["'city'", "'Atlantis'"]),
}


def load_train_module():
    spec = importlib.util.spec_from_file_location("loan_pipeline_train", MODEL_DIR / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def retrained(tmp_path_factory) -> tuple[Path, list[str]]:
    """The directory ``train()`` saved the model and its sample in, and the arguments it gives."""
    directory = tmp_path_factory.mktemp("loan-train")
    return directory, load_train_module().train(directory)


@pytest.fixture(scope="module")
def pipeline(retrained):
    """The scikit-learn Pipeline itself, as train.py makes it."""
    directory, _ = retrained
    return joblib.load(directory / "model.joblib")


def expected(pipeline, records: list[dict[str, Any]]) -> np.ndarray:
    return pipeline.predict_proba(pd.DataFrame.from_records(records, columns=COLUMNS))


def test_train_gives_the_modelrepo_new_arguments_and_the_committed_model(retrained):
    directory, args = retrained
    model, sample = str(directory / "model.joblib"), str(directory / "rows.csv")
    assert args == ["-f", "sklearn", "-a", model, "--sample", sample]
    # a pickle's bytes vary with the environment; its answers must not
    golden = Manifest.read(MODEL_DIR).golden[-1]
    frame = pd.DataFrame.from_records(golden.input["table"])
    answers = joblib.load(directory / "model.joblib").predict_proba(frame)
    np.testing.assert_allclose(answers, golden.output["predict_proba"], rtol=1e-12, atol=1e-12)


def test_the_sample_file_reads_back_with_the_dataframes_dtypes(retrained, pipeline):
    directory, _ = retrained
    rows = pd.read_csv(directory / "rows.csv")
    assert list(rows.columns) == COLUMNS == list(pipeline.feature_names_in_)
    assert {c: rows[c].dtype.kind for c in COLUMNS} == {
        "age": "i",
        "income": "f",
        "city": "O",
        "employment": "O",
        "owns_home": "b",
    }
    assert rows["income"].isna().any()


def test_the_contract_is_inferred_from_the_pipeline_and_the_sample(pipeline):
    manifest = Manifest.read(MODEL_DIR)
    (table,) = manifest.inputs
    assert isinstance(table, TableSpec) and table.column_names == COLUMNS
    columns = {c.name: c for c in table.columns}
    encoder = pipeline.named_steps["columns"].named_transformers_["cat"]
    city, employment = (list(c) for c in encoder.categories_)
    assert columns["age"].type == "int"
    assert (columns["income"].type, columns["income"].nullable) == ("float", True)
    assert (columns["city"].type, columns["city"].categories) == ("category", city)
    assert (columns["employment"].type, columns["employment"].categories) == (
        "category",
        employment,
    )
    assert not columns["city"].nullable and not columns["employment"].nullable
    assert (columns["owns_home"].type, columns["owns_home"].nullable) == ("bool", False)
    (output,) = manifest.outputs
    assert (output.name, output.names) == ("predict_proba", CLASSES)
    # the golden pairs hold the sample's row without an income
    assert any(r["income"] is None for pair in manifest.golden for r in pair.input["table"])


def test_wrapper_loads_and_replays_its_golden_pairs():
    model = SklearnModel(model_dir=MODEL_DIR)
    model.load()
    assert model.ready, model.problem


# ---- served ------------------------------------------------------------------------------------


def ndarray_request(records: list[dict[str, Any]], names: list[str] = COLUMNS) -> dict:
    return {"data": {"names": names, "ndarray": [[r[n] for n in names] for r in records]}}


def columns_request(records: list[dict[str, Any]]) -> dict:
    return {"jsonData": {c: [r[c] for r in records] for c in COLUMNS}}


REQUESTS = {
    "ndarray rows": ndarray_request(RECORDS),
    "ndarray rows, columns reordered": ndarray_request(RECORDS, COLUMNS[::-1]),
    "jsonData records": {"jsonData": RECORDS},
    "jsonData columns": columns_request(RECORDS),
}
GRPC_REQUESTS = ["ndarray rows", "jsonData records"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "loan-pipeline.log"
    with Microservice(MODEL_DIR, log_path=log) as served:
        yield served


@pytest.fixture(scope="module")
def channel(service):
    with grpc.insecure_channel(service.grpc_target) as opened:
        grpc.channel_ready_future(opened).result(timeout=30)
        yield opened


def grpc_predict(channel, message: dict) -> dict:
    stub = prediction_pb2_grpc.ModelStub(channel)
    return seldon_message_to_json(stub.Predict(json_to_seldon_message(message), timeout=30))


@pytest.mark.e2e
@pytest.mark.parametrize("form", REQUESTS)
def test_rest_answers_equal_the_pipelines_predict_proba(service, pipeline, form):
    answer = requests.post(service.url + "/api/v1.0/predictions", json=REQUESTS[form], timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data"]["names"] == CLASSES
    np.testing.assert_allclose(body["data"]["ndarray"], expected(pipeline, RECORDS), rtol=1e-9)


@pytest.mark.e2e
@pytest.mark.parametrize("form", GRPC_REQUESTS)
def test_grpc_answers_equal_the_pipelines_predict_proba(channel, pipeline, form):
    body = grpc_predict(channel, REQUESTS[form])
    assert body["data"]["names"] == CLASSES
    np.testing.assert_allclose(body["data"]["ndarray"], expected(pipeline, RECORDS), rtol=1e-9)


@pytest.mark.e2e
def test_rest_answers_one_record_as_the_pipeline_does(service, pipeline):
    record = RECORDS[1]
    answer = requests.post(service.url + "/predict", json={"jsonData": [record]}, timeout=30)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(
        answer.json()["data"]["ndarray"], expected(pipeline, [record]), rtol=1e-9
    )


@pytest.mark.e2e
@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_rest_bad_table_is_400_naming_the_column(service, case):
    records, words = BAD_REQUESTS[case]
    answer = requests.post(
        service.url + "/api/v1.0/predictions", json={"jsonData": records}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    assert all(w in info for w in words), info


@pytest.mark.e2e
@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_grpc_bad_table_is_invalid_argument_naming_the_column(channel, case):
    records, words = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as caught:
        grpc_predict(channel, {"jsonData": records})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert all(w in details for w in words), details


@pytest.mark.e2e
def test_request_json_is_answered(service):
    body = json.loads((MODEL_DIR / "request.json").read_text())
    answer = requests.post(service.url + "/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["names"] == CLASSES
