"""xgboost-breast-cancer and lightgbm-diabetes: boosters in their libraries' own formats, each
over a table with a categorical column. Every answer, in process and served over Seldon REST,
Seldon gRPC, V2 REST and V2 gRPC, is compared with the library's own prediction on a DataFrame,
from the model file the directory's ``train()`` saves."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
import requests
from conftest import MODELS_DIR, run_cli
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers import LightGBMModel, Manifest, XGBoostModel, wrapper_for
from wrappers.contract import TableSpec
from wrappers.core.model import Request
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
from wrappers.protocols.v2.dataplane import column_datatype


def xgboost_model(path: Path) -> Callable[[pd.DataFrame], np.ndarray]:
    import xgboost

    model = xgboost.XGBClassifier()
    model.load_model(path)
    return model.predict_proba


def lightgbm_model(path: Path) -> Callable[[pd.DataFrame], np.ndarray]:
    import lightgbm

    booster = lightgbm.Booster(model_file=str(path))
    return lambda frame: booster.predict(frame).reshape(-1, 1)


@dataclass(frozen=True)
class Case:
    name: str
    artifact: str
    #: the library's own model, read from the file train() saves: DataFrame -> answers
    library: Callable[[Path], Callable[[pd.DataFrame], np.ndarray]]
    output: str
    names: list[str]
    #: rows of the data set the sample does not hold, every category among them
    rows: list[int]
    #: a column set to null in one row, and a value outside its categories
    nulled: str
    category: str
    unknown: Any


CASES = {
    "xgboost-breast-cancer": Case(
        "xgboost-breast-cancer", "model.ubj", xgboost_model, "predict_proba", ["0", "1"],
        [5, 40, 77, 230, 402, 511], "concavity", "size", "huge",
    ),
    "lightgbm-diabetes": Case(
        "lightgbm-diabetes", "model.txt", lightgbm_model, "predict", ["prediction"],
        [3, 14, 90, 180, 333, 410], "s3", "sex", 3,
    ),
}  # fmt: skip
WRAPPERS = {"xgboost-breast-cancer": XGBoostModel, "lightgbm-diabetes": LightGBMModel}


def train_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"{name.replace('-', '_')}_train", MODELS_DIR / name / "train.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Retrained:
    case: Case
    directory: Path
    args: list[str]
    #: the data set's features as train.py makes them (pandas category columns)
    features: pd.DataFrame
    predict: Callable[[pd.DataFrame], np.ndarray]

    def records(self) -> list[dict[str, Any]]:
        """The case's rows as JSON records, one with a null."""
        frame = self.features.iloc[self.case.rows].astype(object)
        records = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
        records[1][self.case.nulled] = None
        return records

    def expected(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The library's answer for records, on a DataFrame with the training dtypes."""
        frame = pd.DataFrame.from_records(records, columns=list(self.features.columns))
        for column, dtype in self.features.dtypes.items():
            frame[column] = frame[column].astype(dtype)
        return self.predict(frame)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@pytest.fixture(scope="module", params=list(CASES))
def retrained(request, tmp_path_factory) -> Retrained:
    case = CASES[request.param]
    directory = tmp_path_factory.mktemp(case.name)
    module = train_module(case.name)
    args = module.train(directory)
    features = (module.tumours if "xgboost" in case.name else module.patients)()[0]
    return Retrained(case, directory, args, features, case.library(directory / case.artifact))


def test_train_saves_the_native_model_and_gives_the_modelrepo_new_arguments(retrained):
    case, directory = retrained.case, retrained.directory
    framework = case.name.split("-")[0]
    artifact, sample = str(directory / case.artifact), str(directory / "rows.csv")
    assert retrained.args == ["-f", framework, "-a", artifact, "--sample", sample]
    committed = MODELS_DIR / case.name / case.artifact
    assert (directory / case.artifact).read_bytes() == committed.read_bytes()


def test_the_contract_is_read_from_the_model_file(retrained):
    manifest = Manifest.read(MODELS_DIR / retrained.case.name)
    (table,) = manifest.inputs
    features = retrained.features
    assert isinstance(table, TableSpec) and table.column_names == list(features.columns)
    for column in table.columns:
        assert column.nullable  # a booster takes a missing value in any feature
        dtype = features[column.name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            assert column.type == "category"
            assert column.categories == [_plain(c) for c in dtype.categories]
        else:
            assert column.type == "float"
    (output,) = manifest.outputs
    assert (output.name, output.names) == (retrained.case.output, retrained.case.names)
    # the sample's row with a measurement left out is among the golden pairs
    assert any(None in r.values() for r in manifest.golden[-1].input["table"])


def test_the_runtime_answers_as_the_library_in_process(retrained):
    model = WRAPPERS[retrained.case.name](model_dir=MODELS_DIR / retrained.case.name)
    model.load()
    assert model.ready, model.problem
    records = retrained.records()
    answers = model.infer(Request({"table": records}))
    np.testing.assert_allclose(
        answers[retrained.case.output], retrained.expected(records), rtol=1e-6, atol=1e-7
    )


def test_modelrepo_check_passes():
    for name in CASES:
        result = run_cli("check", MODELS_DIR / name)
        assert result.exit_code == 0, result.output + result.stderr


def test_the_library_and_the_directory_agree_on_the_framework():
    for name, wrapper in WRAPPERS.items():
        manifest = Manifest.read(MODELS_DIR / name)
        assert wrapper_for(manifest.framework) is wrapper


# ---- served ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(retrained, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{retrained.case.name}.log"
    with Microservice(MODELS_DIR / retrained.case.name, log_path=log) as served:
        yield served


def seldon_rest(service: Microservice, body: dict) -> dict:
    answer = requests.post(service.url + "/api/v1.0/predictions", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def seldon_grpc(service: Microservice, body: dict) -> dict:
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        return seldon_message_to_json(stub.Predict(json_to_seldon_message(body), timeout=30))


def ndarray_body(records: list[dict[str, Any]]) -> dict:
    names = list(records[0])
    return {"data": {"names": names, "ndarray": [[r[n] for n in names] for r in records]}}


@pytest.mark.e2e
@pytest.mark.parametrize("via", ["rest", "grpc"])
@pytest.mark.parametrize("form", ["records", "ndarray"])
def test_seldon_answers_equal_the_librarys(retrained, service, via, form):
    records = retrained.records()
    body = {"jsonData": records} if form == "records" else ndarray_body(records)
    answer = (seldon_rest if via == "rest" else seldon_grpc)(service, body)
    assert answer["data"]["names"] == retrained.case.names
    np.testing.assert_allclose(
        answer["data"]["ndarray"], retrained.expected(records), rtol=1e-6, atol=1e-7
    )


def v2_columns(manifest: Manifest, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as MLServer's PandasCodec sends a DataFrame: one tensor per column."""
    (table,) = manifest.inputs
    return [
        {
            "name": c.name,
            "datatype": column_datatype(c),
            "shape": [len(records), 1],
            "data": [r[c.name] for r in records],
        }
        for c in table.columns
    ]


def complete(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """V2's numeric tensors carry no null: the records without the one that has one."""
    return [r for r in records if all(v is not None for v in r.values())]


@pytest.mark.e2e
def test_v2_rest_answers_equal_the_librarys(retrained, service):
    manifest = Manifest.read(MODELS_DIR / retrained.case.name)
    records = complete(retrained.records())
    body = {"parameters": {"content_type": "pd"}, "inputs": v2_columns(manifest, records)}
    url = f"{service.url}/v2/models/{manifest.name}/infer"
    answer = requests.post(url, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    got = np.asarray(output["data"]).reshape(output["shape"])
    np.testing.assert_allclose(got, retrained.expected(records), rtol=1e-6, atol=1e-7)


@pytest.mark.e2e
def test_v2_grpc_answers_equal_the_librarys(retrained, service):
    manifest = Manifest.read(MODELS_DIR / retrained.case.name)
    records = complete(retrained.records())
    request = pb.ModelInferRequest(model_name=manifest.name)
    request.parameters["content_type"].string_param = "pd"
    for column in v2_columns(manifest, records):
        tensor = request.inputs.add(
            name=column["name"], datatype=column["datatype"], shape=column["shape"]
        )
        field = {"FP64": "fp64_contents", "INT64": "int64_contents", "BYTES": "bytes_contents"}
        values = column["data"]
        if column["datatype"] == "BYTES":
            values = [str(v).encode() for v in values]
        getattr(tensor.contents, field[column["datatype"]]).extend(values)
    with grpc.insecure_channel(service.grpc_target) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
    (output,) = answer.outputs
    values = output.contents.fp64_contents or output.contents.fp32_contents
    got = np.asarray(values).reshape(list(output.shape))
    np.testing.assert_allclose(got, retrained.expected(records), rtol=1e-6, atol=1e-7)


@pytest.mark.e2e
@pytest.mark.parametrize("fault", ["unknown category", "missing column"])
def test_a_bad_row_is_a_400_naming_the_column(retrained, service, fault):
    records = retrained.records()[:1]
    case = retrained.case
    if fault == "unknown category":
        records[0][case.category] = case.unknown
        words = [repr(case.category), repr(case.unknown)]
    else:
        del records[0][case.nulled]
        words = [case.nulled, "missing"]
    answer = requests.post(
        service.url + "/api/v1.0/predictions", json={"jsonData": records}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    assert all(w in info for w in words), info


@pytest.mark.e2e
def test_request_json_is_answered_as_the_library_answers(retrained, service):
    body = json.loads((MODELS_DIR / retrained.case.name / "request.json").read_text())
    answer = seldon_rest(service, body)
    records = body["jsonData"]
    expected = retrained.expected(records)
    np.testing.assert_allclose(answer["data"]["ndarray"], expected, rtol=1e-6, atol=1e-7)
    assert not any(math.isnan(v) for v in np.ravel(expected))
