"""torch-digits-cnn: a CNN on [N, 1, 8, 8] images, served from its state dict and its class, and
the same network as a ``torch.export`` program (.pt2) that needs no class.

Every answer is compared with DigitsCNN itself: rebuilt here from the directory's network.py
and loaded strictly from its model.safetensors, never through the wrapper.
"""

from __future__ import annotations

import importlib.util

import grpc
import numpy as np
import pytest
import requests
import torch
from conftest import MODELS_DIR, run_cli
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from modelrepo.local.process import Microservice
from wrappers import Manifest, TorchModel
from wrappers.contract import TensorSpec
from wrappers.core.formats import SAFETENSORS_FILE, load_safetensors
from wrappers.errors import UnsafeArtifact

NAME = "torch-digits-cnn"
MODEL_DIR = MODELS_DIR / NAME
#: logits are ~10-25 in size; float32 sums in another order (batch size, threads) move them ~1e-6
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
#: held-out images that are not among the golden pairs (those are the first five)
UNSEEN = slice(5, 12)


def digits_cnn() -> torch.nn.Module:
    """DigitsCNN from the directory's network.py with the committed weights, loaded strictly."""
    spec = importlib.util.spec_from_file_location("digits_cnn_network", MODEL_DIR / "network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = module.DigitsCNN()
    state = load_safetensors(MODEL_DIR / SAFETENSORS_FILE)
    network.load_state_dict(state, strict=True)
    return network.eval()


def logits(network: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return network(torch.from_numpy(np.ascontiguousarray(images))).numpy()


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return digits_cnn()


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    """The images train.py held out (the same split), float32 [N, 1, 8, 8] in [0, 1], and labels."""
    digits = load_digits()
    pixels = (digits.images / 16).astype(np.float32)[:, None]
    _, images, _, labels = train_test_split(
        pixels, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    return images, labels


@pytest.fixture(scope="module")
def loaded() -> TorchModel:
    model = TorchModel(model_dir=MODEL_DIR)
    model.load()
    return model


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{NAME}.log"
    with Microservice(MODEL_DIR, log_path=log) as running:
        yield running


def ndarray_message(images: np.ndarray) -> dict:
    return {"data": {"ndarray": images.tolist()}}


def tensor_message(images: np.ndarray) -> dict:
    return {"data": {"tensor": {"shape": list(images.shape), "values": images.ravel().tolist()}}}


def answered(body: dict) -> np.ndarray:
    """The logits in an answer, in the form the request came in."""
    data = body["data"]
    if "tensor" in data:
        return np.reshape(data["tensor"]["values"], data["tensor"]["shape"])
    return np.asarray(data["ndarray"])


def grpc_predict(target: str, message: dict):
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = prediction_pb2_grpc.ModelStub(channel)
        return stub.Predict(json_to_seldon_message(message), timeout=30)


# ---- the committed directory ----------------------------------------------------------------


def test_modelrepo_new_inferred_an_nd_tensor_contract():
    manifest = Manifest.read(MODEL_DIR)
    assert manifest.framework == "torch"
    assert manifest.inputs == [TensorSpec(name="input", dtype="float32", shape=[-1, 1, 8, 8])]
    assert manifest.outputs == [TensorSpec(name="output", dtype="float32", shape=[-1, 10])]
    architecture = "network.py:DigitsCNN"
    assert manifest.options == {"architecture": architecture, "checkpoint": SAFETENSORS_FILE}


def test_the_sample_is_the_first_held_out_images(held_out):
    images, _ = held_out
    sample = Manifest.read(MODEL_DIR).golden[-1].input["input"]
    np.testing.assert_array_equal(np.asarray(sample, dtype=np.float32), images[:5])


def test_loads_ready_in_process_after_its_golden_replay(loaded, network, held_out):
    assert loaded.ready, loaded.problem
    images, _ = held_out
    for batch in (images[:1], images[UNSEEN]):
        np.testing.assert_allclose(loaded.predict(batch), logits(network, batch), **TOLERANCE)


def test_the_network_recognises_held_out_digits(network, held_out):
    images, labels = held_out
    accuracy = np.mean(logits(network, images).argmax(axis=1) == labels)
    assert accuracy >= 0.9, accuracy


# ---- served over REST and gRPC --------------------------------------------------------------

FORMS = {"ndarray": ndarray_message, "tensor": tensor_message}


@pytest.mark.e2e
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("rows", [UNSEEN, slice(7, 8)], ids=["7 images", "1 image"])
def test_rest_answers_equal_the_network(service, network, held_out, form, rows):
    images = held_out[0][rows]
    answer = requests.post(
        service.url + "/api/v1.0/predictions", json=FORMS[form](images), timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert (form == "tensor") == ("tensor" in answer.json()["data"])
    served = answered(answer.json())
    assert served.shape == (len(images), 10)
    np.testing.assert_allclose(served, logits(network, images), **TOLERANCE)


@pytest.mark.e2e
@pytest.mark.parametrize("form", sorted(FORMS))
def test_grpc_answers_equal_the_network(service, network, held_out, form):
    images = held_out[0][UNSEEN]
    served = answered(
        seldon_message_to_json(grpc_predict(service.grpc_target, FORMS[form](images)))
    )
    np.testing.assert_allclose(served, logits(network, images), **TOLERANCE)


@pytest.mark.e2e
def test_served_classes_match_the_labels_of_the_held_out_set(service, held_out):
    images, labels = held_out
    answer = requests.post(service.url + "/predict", json=tensor_message(images), timeout=60)
    assert answer.status_code == 200, answer.text
    accuracy = np.mean(answered(answer.json()).argmax(axis=1) == labels)
    assert accuracy >= 0.9, accuracy


def one_image() -> list:
    return np.zeros((1, 8, 8)).tolist()


def string_in_the_values() -> dict:
    values = [0.0] * 64
    values[10] = "dark"
    return {"data": {"tensor": {"shape": [1, 1, 8, 8], "values": values}}}


#: request, what the 400's message must say
BAD_REQUESTS = {
    "rows of 64 pixels": (
        {"data": {"ndarray": np.zeros((2, 64)).tolist()}},
        ["input", "rank 4", "[N, 1, 8, 8]", "rank 2", "[2, 64]"],
    ),
    "images of 8x7 pixels": (
        {"data": {"ndarray": np.zeros((2, 1, 8, 7)).tolist()}},
        ["input", "[N, 1, 8, 8]", "got 7 in dimension 3"],
    ),
    "a string among the values": (
        string_in_the_values(),
        ["input", "expected numbers (float32)"],
    ),
    "a string in the nested lists": (
        {"data": {"ndarray": [[[*np.zeros((7, 8)).tolist(), [0.0, "dark", *[0.0] * 6]]]]}},
        ["input", "expected numbers (float32)"],
    ),
    "images of different sizes": (
        {"data": {"ndarray": [one_image(), np.zeros((1, 7, 8)).tolist()]}},
        ["data.ndarray", "rectangular"],
    ),
    "a row one pixel short": (
        {"data": {"ndarray": [[[*np.zeros((7, 8)).tolist(), [0.0] * 7]]]}},
        ["data.ndarray", "rectangular"],
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_400_saying_what_was_expected(service, case):
    message, said = BAD_REQUESTS[case]
    answer = requests.post(service.url + "/api/v1.0/predictions", json=message, timeout=30)
    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    assert all(part in info for part in said), info


@pytest.mark.e2e
@pytest.mark.parametrize(
    "case",
    # a SeldonMessage's tensor.values are doubles: a gRPC client cannot send a string there
    [case for case in BAD_REQUESTS if case != "a string among the values"],
)
def test_bad_grpc_requests_are_invalid_arguments(service, case):
    message, said = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as caught:
        grpc_predict(service.grpc_target, message)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert all(part in details for part in said), details


# ---- the same network as a torch.export program --------------------------------------------


def test_a_torch_export_program_is_served_without_its_class_only_with_allow_pickle(
    tmp_path, monkeypatch, network, held_out
):
    images, _ = held_out
    sample = images[:5]
    # a batch of 2 or more to trace with: from a batch of 1, export specialises the size to 1
    program = torch.export.export(
        network, (torch.from_numpy(sample),), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    user = tmp_path / "user"
    user.mkdir()
    torch.export.save(program, user / "model.pt2")
    np.save(user / "digits.npy", sample)

    # torch.export.load unpickles parts of a program: it is a pickle format (allow_pickle)
    monkeypatch.setenv("MODELREPO_ALLOW_PICKLE", "1")
    model_dir = tmp_path / "digits-program"
    result = run_cli(
        "new", model_dir, "-f", "torch", "-a", user / "model.pt2", "--sample", user / "digits.npy"
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert not (model_dir / "network.py").exists()
    manifest = Manifest.read(model_dir)
    assert manifest.options == {"program": "model.pt2"}
    committed = Manifest.read(MODEL_DIR)
    assert (manifest.inputs, manifest.outputs) == (committed.inputs, committed.outputs)
    assert any(len(pair.input["input"]) == 1 for pair in manifest.golden)  # batch 1 replayed

    with pytest.raises(UnsafeArtifact, match=r"torch\.export program"):
        TorchModel(model_dir=model_dir, allow_pickle=False).load()
    model = TorchModel(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    for batch in (images[7:8], images[UNSEEN], images):
        np.testing.assert_allclose(model.predict(batch), logits(network, batch), **TOLERANCE)
