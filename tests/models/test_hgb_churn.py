"""hgb-churn: a HistGradientBoostingClassifier over pandas ``category`` columns
(``categorical_features="from_dtype"``) and missing values, served as a table whose every column
takes null (the estimator takes NaN anywhere). Answers over Seldon REST, Seldon gRPC, V2 REST and
V2 gRPC are compared with the classifier's own ``predict_proba`` on a DataFrame of the training
dtypes, from a model retrained here by the directory's ``train()``."""

from __future__ import annotations

import importlib.util
import json
import math
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
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc

MODEL_DIR = MODELS_DIR / "hgb-churn"
COLUMNS = ["tenure_months", "monthly_charges", "contract", "payment", "support_calls"]
CATEGORICAL = ["contract", "payment"]
CLASSES = ["churned", "stayed"]
#: customers the sample does not hold; with a null in every column, one at a time and all at once
RECORDS: list[dict[str, Any]] = [
    {"tenure_months": 2, "monthly_charges": 99.5, "contract": "month-to-month",
     "payment": "electronic-check", "support_calls": 4},
    {"tenure_months": 60, "monthly_charges": 25.0, "contract": "two-year", "payment": "card",
     "support_calls": 0},
    {"tenure_months": None, "monthly_charges": 70.0, "contract": "one-year",
     "payment": "bank-transfer", "support_calls": 1},
    {"tenure_months": 12, "monthly_charges": None, "contract": "month-to-month",
     "payment": "mailed-check", "support_calls": 2},
    {"tenure_months": 30, "monthly_charges": 55.25, "contract": None, "payment": "card",
     "support_calls": 3},
    {"tenure_months": 8, "monthly_charges": 88.0, "contract": "one-year", "payment": None,
     "support_calls": None},
    {"tenure_months": None, "monthly_charges": None, "contract": None, "payment": None,
     "support_calls": None},
]  # fmt: skip


def load_train_module():
    spec = importlib.util.spec_from_file_location("hgb_churn_train", MODEL_DIR / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_module():
    return load_train_module()


@pytest.fixture(scope="module")
def retrained(tmp_path_factory, train_module) -> tuple[Path, list[str]]:
    directory = tmp_path_factory.mktemp("hgb-train")
    return directory, train_module.train(directory)


@pytest.fixture(scope="module")
def classifier(retrained):
    """The HistGradientBoostingClassifier itself, as train.py makes it."""
    directory, _ = retrained
    return joblib.load(directory / "model.joblib")


def frame_of(records: list[dict[str, Any]], train_module) -> pd.DataFrame:
    """The records as the user's DataFrame: category columns of the training categories."""
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame["contract"] = pd.Categorical(frame["contract"], categories=train_module.CONTRACTS)
    frame["payment"] = pd.Categorical(frame["payment"], categories=train_module.PAYMENTS)
    for column in ("tenure_months", "monthly_charges", "support_calls"):
        frame[column] = frame[column].astype(float)
    return frame


@pytest.fixture(scope="module")
def expected(classifier, train_module) -> np.ndarray:
    return classifier.predict_proba(frame_of(RECORDS, train_module))


def test_train_gives_the_arguments_and_the_committed_answers(retrained, classifier, train_module):
    directory, args = retrained
    model, sample = str(directory / "model.joblib"), str(directory / "rows.csv")
    assert args == ["-f", "sklearn", "-a", model, "--sample", sample]
    assert classifier.categorical_features == "from_dtype"
    assert list(classifier.is_categorical_) == [c in CATEGORICAL for c in COLUMNS]
    golden = Manifest.read(MODEL_DIR).golden[-1]
    answers = classifier.predict_proba(frame_of(golden.input["table"], train_module))
    np.testing.assert_allclose(answers, golden.output["predict_proba"], rtol=1e-12, atol=1e-12)


def test_the_contract_takes_null_everywhere_and_names_the_learned_categories(
    classifier, train_module
):
    manifest = Manifest.read(MODEL_DIR)
    (table,) = manifest.inputs
    assert isinstance(table, TableSpec) and table.column_names == COLUMNS
    # the sample has no null in tenure_months, contract or payment: nullable from the
    # estimator's tags
    assert all(c.nullable for c in table.columns)
    columns = {c.name: c for c in table.columns}
    assert columns["contract"].categories == train_module.CONTRACTS
    assert columns["payment"].categories == train_module.PAYMENTS
    assert (columns["tenure_months"].type, columns["monthly_charges"].type) == ("int", "float")
    # nothing beyond the allowlist: scikit-learn's own partial of check_array is on it
    assert manifest.trusted_types == [] and manifest.code == []
    assert manifest.requirements == (MODEL_DIR / "requirements.txt").read_text().splitlines()
    held = {k for pair in manifest.golden for r in pair.input["table"] for k, v in r.items()
            if v is None}  # fmt: skip
    assert held == {"monthly_charges", "support_calls"}


def test_wrapper_loads_and_replays_its_golden_pairs():
    model = SklearnModel(model_dir=MODEL_DIR)
    model.load()
    assert model.ready, model.problem


# ---- served ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "hgb-churn.log"
    with Microservice(MODEL_DIR, log_path=log) as served:
        yield served


@pytest.fixture(scope="module")
def channel(service):
    with grpc.insecure_channel(service.grpc_target) as opened:
        grpc.channel_ready_future(opened).result(timeout=30)
        yield opened


REQUESTS = {
    "jsonData records": {"jsonData": RECORDS},
    "jsonData columns": {"jsonData": {c: [r[c] for r in RECORDS] for c in COLUMNS}},
    "ndarray rows with names": {
        "data": {"names": COLUMNS, "ndarray": [[r[c] for c in COLUMNS] for r in RECORDS]}
    },
}


@pytest.mark.e2e
@pytest.mark.parametrize("form", REQUESTS)
def test_seldon_rest_answers_equal_the_classifier(service, expected, form):
    answer = requests.post(service.url + "/api/v1.0/predictions", json=REQUESTS[form], timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["names"] == CLASSES
    np.testing.assert_allclose(answer.json()["data"]["ndarray"], expected, rtol=1e-12)


@pytest.mark.e2e
@pytest.mark.parametrize("form", ["jsonData records", "ndarray rows with names"])
def test_seldon_grpc_answers_equal_the_classifier(channel, expected, form):
    stub = prediction_pb2_grpc.ModelStub(channel)
    reply = stub.Predict(json_to_seldon_message(REQUESTS[form]), timeout=60)
    body = seldon_message_to_json(reply)
    assert body["data"]["names"] == CLASSES
    np.testing.assert_allclose(body["data"]["ndarray"], expected, rtol=1e-12)


def v2_datatype(column: str) -> str:
    return "BYTES" if column in CATEGORICAL else "FP64"


@pytest.mark.e2e
def test_v2_rest_answers_equal_the_classifier(service, expected):
    """A table as MLServer's PandasCodec sends it: one tensor per column, content type pd."""
    inputs = [
        {"name": c, "datatype": v2_datatype(c), "shape": [len(RECORDS), 1],
         "data": [r[c] for r in RECORDS]}
        for c in COLUMNS
    ]  # fmt: skip
    body = {"parameters": {"content_type": "pd"}, "inputs": inputs}
    answer = requests.post(service.url + "/v2/models/hgb-churn/infer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert (output["name"], output["shape"]) == ("predict_proba", [len(RECORDS), 2])
    np.testing.assert_allclose(np.reshape(output["data"], (-1, 2)), expected, rtol=1e-12)


@pytest.mark.e2e
def test_v2_grpc_answers_equal_the_classifier(channel, classifier, train_module):
    """Typed contents: a missing number is NaN; BYTES cannot hold a null, so the records
    whose categories are all present are sent."""
    records = [r for r in RECORDS if all(r[c] is not None for c in CATEGORICAL)]
    request = pb.ModelInferRequest(model_name="hgb-churn")
    request.parameters["content_type"].string_param = "pd"
    for column in COLUMNS:
        given = request.inputs.add(name=column, datatype=v2_datatype(column), shape=[len(records)])
        values = [r[column] for r in records]
        if column in CATEGORICAL:
            given.contents.bytes_contents.extend(v.encode() for v in values)
        else:
            given.contents.fp64_contents.extend(math.nan if v is None else v for v in values)
    reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=60)
    (output,) = reply.outputs
    assert (output.name, list(output.shape)) == ("predict_proba", [len(records), 2])
    answers = np.reshape(output.contents.fp64_contents, (-1, 2))
    wanted = classifier.predict_proba(frame_of(records, train_module))
    assert any(r[c] is None for r in records for c in COLUMNS)  # NaN went over the wire
    np.testing.assert_allclose(answers, wanted, rtol=1e-12)


@pytest.mark.e2e
def test_an_unknown_category_is_400_naming_it(service):
    records = [{**RECORDS[0], "payment": "cheque"}]
    answer = requests.post(service.url + "/predict", json={"jsonData": records}, timeout=60)
    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    assert "'payment'" in info and "'cheque'" in info


@pytest.mark.e2e
def test_request_json_is_answered(service):
    body = json.loads((MODEL_DIR / "request.json").read_text())
    answer = requests.post(service.url + "/predict", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["names"] == CLASSES
