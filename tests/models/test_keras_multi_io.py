"""keras-multi-io: two named inputs (float32 ``measurements``, int32 ``history``) and two named
outputs (``risk``, ``progression``), served over REST and gRPC as jsonData by name.

The expected answers come from the user's own Keras model: ``train.py``'s ``train()`` rebuilds
``model.keras`` from its fixed seeds (in a subprocess, so that its global seeding and op
determinism stay out of this process), and the test calls it with ``keras.saving.load_model``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
from conftest import MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers import TFModel

MODEL_DIR = MODELS_DIR / "keras-multi-io"
INPUTS = ("measurements", "history")
OUTPUTS = ("risk", "progression")


def _train_module():
    spec = importlib.util.spec_from_file_location("keras_multi_io_train", MODEL_DIR / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRAIN = _train_module()


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory) -> Path:
    """What the user had: ``model.keras`` and ``sample.npz``, rebuilt by ``train()``."""
    directory = tmp_path_factory.mktemp("keras-multi-io-user")
    script = (
        "import json, sys\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\n"
        "from train import train\nprint(json.dumps(train(Path(sys.argv[2]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(MODEL_DIR), str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    args = json.loads(done.stdout.strip().splitlines()[-1])
    assert args == [
        "-f",
        "tensorflow",
        "-a",
        str(directory / "model.keras"),
        "--sample",
        str(directory / "sample.npz"),
    ]
    return directory


@pytest.fixture(scope="module")
def keras_model(user_dir):
    import keras

    return keras.saving.load_model(user_dir / "model.keras")


def expected(keras_model, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Keras model's own answers."""
    answers = keras_model(
        {"measurements": batch["measurements"], "history": batch["history"]}, training=False
    )
    assert sorted(answers) == sorted(OUTPUTS)
    return {name: np.asarray(answers[name]) for name in OUTPUTS}


def test_train_writes_the_sample_a_user_would(user_dir):
    with np.load(user_dir / "sample.npz") as sample:
        assert sorted(sample.files) == sorted(INPUTS)
        assert sample["measurements"].shape == (6, 8)
        assert sample["measurements"].dtype == np.float32
        assert sample["history"].shape == (6, 2)
        assert sample["history"].dtype == np.int32


def test_in_process_wrapper_is_ready_with_the_signature_contract():
    model = TFModel(model_dir=MODEL_DIR)
    model.load()
    assert model.ready, model.problem
    manifest = model.manifest
    assert {s.name: (s.dtype, s.shape) for s in manifest.inputs} == {
        "measurements": ("float32", [-1, 8]),
        "history": ("int32", [-1, 2]),
    }
    assert {s.name: (s.dtype, s.shape) for s in manifest.outputs} == {
        "risk": ("float32", [-1, 1]),
        "progression": ("float32", [-1, 1]),
    }


def test_committed_golden_pairs_are_the_keras_models_answers(keras_model):
    from wrappers import Manifest

    for pair in Manifest.read(MODEL_DIR).golden:
        batch = {
            "measurements": np.asarray(pair.input["measurements"], np.float32),
            "history": np.asarray(pair.input["history"], np.int32),
        }
        answers = expected(keras_model, batch)
        for name in OUTPUTS:
            np.testing.assert_allclose(pair.output[name], answers[name], rtol=1e-5, atol=1e-6)


# ---- served ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "keras-multi-io.log"
    with Microservice(MODEL_DIR, log_path=log) as service:
        yield service


def batches() -> dict[str, dict[str, np.ndarray]]:
    """Test-split rows the golden pairs do not hold: one row, and a batch of several."""
    _, test, _, _ = TRAIN.data()
    return {
        "one row": {k: v[10:11] for k, v in test.items()},
        "17 rows": {k: v[20:37] for k, v in test.items()},
    }


BATCHES = batches()


def json_request(batch: dict[str, np.ndarray]) -> dict:
    return {"jsonData": {name: batch[name].tolist() for name in INPUTS}}


def assert_answers(body: dict, wanted: dict[str, np.ndarray]) -> None:
    assert "data" not in body
    assert sorted(body["jsonData"]) == sorted(OUTPUTS)
    for name in OUTPUTS:
        got = np.asarray(body["jsonData"][name])
        assert got.shape == wanted[name].shape == (len(wanted[name]), 1)
        np.testing.assert_allclose(got, wanted[name], rtol=1e-5, atol=1e-6)


def post(server, message: dict) -> requests.Response:
    return requests.post(server.url + "/api/v1.0/predictions", json=message, timeout=30)


@pytest.mark.e2e
@pytest.mark.parametrize("which", sorted(BATCHES))
def test_rest_answers_equal_the_keras_model(server, keras_model, which):
    batch = BATCHES[which]
    answer = post(server, json_request(batch))
    assert answer.status_code == 200, answer.text
    assert_answers(answer.json(), expected(keras_model, batch))


@pytest.mark.e2e
def test_rest_answers_the_users_sample(server, keras_model, user_dir):
    with np.load(user_dir / "sample.npz") as sample:
        batch = {name: sample[name] for name in INPUTS}
    answer = post(server, json_request(batch))
    assert answer.status_code == 200, answer.text
    assert_answers(answer.json(), expected(keras_model, batch))


@pytest.mark.e2e
@pytest.mark.parametrize("which", sorted(BATCHES))
def test_grpc_answers_equal_the_keras_model(server, keras_model, which):
    batch = BATCHES[which]
    with grpc.insecure_channel(server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = prediction_pb2_grpc.ModelStub(channel)
        reply = stub.Predict(json_to_seldon_message(json_request(batch)), timeout=30)
    assert_answers(seldon_message_to_json(reply), expected(keras_model, batch))


@pytest.mark.e2e
def test_metadata_lists_both_inputs_and_outputs(server):
    metadata = requests.get(server.url + "/metadata", timeout=10).json()
    for key, names in (("inputs", INPUTS), ("outputs", OUTPUTS)):
        assert {m["messagetype"] for m in metadata[key]} == {"jsonData"}
        assert sorted(m["schema"]["name"] for m in metadata[key]) == sorted(names)
    schemas = {m["schema"]["name"]: m["schema"] for m in metadata["inputs"]}
    assert schemas["history"]["dtype"] == "int32" and schemas["history"]["shape"] == [-1, 2]


def bad_requests() -> dict[str, tuple[dict, list[str]]]:
    """Each bad message and the words its 400 must say."""
    row = {name: BATCHES["one row"][name].tolist() for name in INPUTS}
    two = {name: BATCHES["17 rows"][name][:2].tolist() for name in INPUTS}
    return {
        "missing input": (
            {"jsonData": {"measurements": row["measurements"]}},
            ["missing ['history']"],
        ),
        "unexpected input": (
            {"jsonData": {**row, "diet": [[1.0]]}},
            ["unexpected ['diet']"],
        ),
        "different row counts": (
            {"jsonData": {"measurements": two["measurements"], "history": row["history"]}},
            ["same number of rows", "'measurements': 2", "'history': 1"],
        ),
        "data.ndarray": (
            {"data": {"ndarray": row["measurements"]}},
            ["send jsonData", "'measurements'", "'history'"],
        ),
        "measurements too narrow": (
            {"jsonData": {**row, "measurements": [row["measurements"][0][:7]]}},
            ["measurements:", "[N, 8]", "got 7"],
        ),
        "history too wide": (
            {"jsonData": {**row, "history": [[54, 2, 1]]}},
            ["history:", "[N, 2]", "got 3"],
        ),
        "history not whole numbers": (
            {"jsonData": {**row, "history": [[54.5, 2]]}},
            ["history:", "whole numbers", "int32"],
        ),
        "jsonData not an object": ({"jsonData": [[1.0, 2.0]]}, ["input name", "measurements"]),
    }


BAD = bad_requests()


@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(BAD))
def test_rest_bad_request_is_a_400_that_names_the_input(server, case):
    message, words = BAD[case]
    answer = post(server, message)
    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    for word in words:
        assert word in info, info


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["missing input", "data.ndarray", "measurements too narrow"])
def test_grpc_bad_request_is_invalid_argument(server, case):
    message, words = BAD[case]
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(json_to_seldon_message(message), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for word in words:
        assert word in caught.value.details(), caught.value.details()
