"""torch-resnet18: a ResNet-18-sized CNN on [N, 3, 224, 224] images, its 47 MB of weights made
again by train.py and pinned by hash, served over Seldon REST and gRPC and the V2 protocol.

Every answer is compared with ResNet18 itself: rebuilt here from the directory's network.py and
loaded strictly from its model.safetensors, never through the wrapper.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import grpc
import numpy as np
import pytest
import requests
import torch
from conftest import MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers import Manifest, TorchModel
from wrappers.contract import TensorSpec
from wrappers.core.formats import SAFETENSORS_FILE, load_safetensors, save_safetensors
from wrappers.errors import ModelLoadError
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc

NAME = "torch-resnet18"
MODEL_DIR = MODELS_DIR / NAME
#: logits are ~1-6 in size; 20 layers of float32 sums in another order move them ~1e-6
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


def resnet18() -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("resnet18_network", MODEL_DIR / "network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = module.ResNet18()
    network.load_state_dict(load_safetensors(MODEL_DIR / SAFETENSORS_FILE), strict=True)
    return network.eval()


def logits(network: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return network(torch.from_numpy(np.ascontiguousarray(images))).numpy()


def images(rows: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 3, 224, 224)).astype(np.float32)


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return resnet18()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{NAME}.log"
    with Microservice(MODEL_DIR, log_path=log) as running:
        yield running


def test_a_resnet_18_sized_network_with_the_image_contract(network):
    manifest = Manifest.read(MODEL_DIR)
    assert manifest.inputs == [TensorSpec(name="input", dtype="float32", shape=[-1, 3, 224, 224])]
    assert manifest.outputs == [TensorSpec(name="output", dtype="float32", shape=[-1, 1000])]
    assert manifest.options["architecture"] == "network.py:ResNet18"
    assert sum(p.numel() for p in network.parameters()) == 11_689_512
    convolutions = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len([c for c in convolutions if c.kernel_size != (1, 1)]) == 17  # + fc: 18 layers


def test_loads_ready_in_process_and_answers_as_the_network(network):
    model = TorchModel(model_dir=MODEL_DIR)
    model.load()
    assert model.ready, model.problem
    batch = images(3)
    np.testing.assert_allclose(model.predict(batch), logits(network, batch), **TOLERANCE)


def test_train_py_makes_the_pinned_weights_again_and_changed_ones_are_refused(tmp_path):
    copied = tmp_path / NAME
    shutil.copytree(MODEL_DIR, copied, ignore=shutil.ignore_patterns("__pycache__"))
    (copied / SAFETENSORS_FILE).unlink()
    with pytest.raises(ModelLoadError, match=f"{SAFETENSORS_FILE}: missing"):
        TorchModel(model_dir=copied).load()
    command = [sys.executable, MODEL_DIR / "train.py", "--artifacts-only", "--out", copied]
    subprocess.run([str(c) for c in command], check=True, timeout=300)
    assert not Manifest.read(copied).artifact_mismatches(copied)
    state = load_safetensors(copied / SAFETENSORS_FILE)
    state["fc.bias"][0] += 1e-3
    save_safetensors(state, copied / SAFETENSORS_FILE)
    with pytest.raises(ModelLoadError, match=f"{SAFETENSORS_FILE}: sha256"):
        TorchModel(model_dir=copied).load()


# ---- served -----------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("rows", [1, 2])
def test_seldon_rest_answers_equal_the_network(service, network, rows):
    batch = images(rows, seed=rows)
    message = {"data": {"tensor": {"shape": list(batch.shape), "values": batch.ravel().tolist()}}}
    answer = requests.post(service.url + "/api/v1.0/predictions", json=message, timeout=120)
    assert answer.status_code == 200, answer.text
    tensor = answer.json()["data"]["tensor"]
    served = np.reshape(tensor["values"], tensor["shape"])
    np.testing.assert_allclose(served, logits(network, batch), **TOLERANCE)


@pytest.mark.e2e
def test_seldon_grpc_answers_equal_the_network(service, network):
    batch = images(1, seed=3)
    message = {"data": {"tensor": {"shape": list(batch.shape), "values": batch.ravel().tolist()}}}
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        answer = seldon_message_to_json(stub.Predict(json_to_seldon_message(message), timeout=120))
    tensor = answer["data"]["tensor"]
    served = np.reshape(tensor["values"], tensor["shape"])
    np.testing.assert_allclose(served, logits(network, batch), **TOLERANCE)


@pytest.mark.e2e
def test_v2_rest_answers_equal_the_network(service, network):
    batch = images(1, seed=4)
    body = {
        "inputs": [
            {
                "name": "input",
                "datatype": "FP32",
                "shape": list(batch.shape),
                "data": batch.ravel().tolist(),
            }
        ]
    }
    answer = requests.post(service.url + f"/v2/models/{NAME}/infer", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert output["shape"] == [1, 1000]
    np.testing.assert_allclose(
        np.reshape(output["data"], (1, 1000)), logits(network, batch), **TOLERANCE
    )


@pytest.mark.e2e
def test_v2_grpc_raw_contents_answer_equal_the_network(service, network):
    batch = images(2, seed=5)
    request = pb.ModelInferRequest(model_name=NAME)
    request.inputs.add(name="input", datatype="FP32", shape=list(batch.shape))
    request.raw_input_contents.append(batch.astype("<f4").tobytes())
    with grpc.insecure_channel(service.grpc_target) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=120)
    (output,) = answer.outputs
    assert list(output.shape) == [2, 1000]
    raw = answer.raw_output_contents
    served = (
        np.frombuffer(raw[0], dtype="<f4") if raw else np.asarray(output.contents.fp32_contents)
    ).reshape(2, 1000)
    np.testing.assert_allclose(served, logits(network, batch), **TOLERANCE)
