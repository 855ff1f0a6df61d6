"""review-sentiment: a TF-IDF + LogisticRegression Pipeline served with a text input.

Every answer is compared with the committed pipeline's own ``predict_proba`` on a plain list
of strings, computed here with ``skops.io``, not through the wrapper.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import requests
from conftest import MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.contract import TextSpec
from wrappers.core.formats import SKOPS_FILE, load_skops

MODEL_DIR = MODELS_DIR / "review-sentiment"
TEXTS = [
    "great blender, love it",
    "terrible quality, it broke after two days",
    "the box arrived on time",
    "waste of money, returned it",
]
UNICODE = ["très bon 👍", "日本語のレビュー", "naïve café — flimsy lid"]


@pytest.fixture(scope="module")
def pipeline():
    """The committed artifact as scikit-learn loads it."""
    return load_skops(MODEL_DIR / SKOPS_FILE)


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.read(MODEL_DIR)


@pytest.fixture(scope="module")
def expected(pipeline):
    """The pipeline's own probabilities for a plain Python list of strings."""

    def probabilities(texts: list[str]) -> np.ndarray:
        return pipeline.predict_proba(list(texts))

    return probabilities


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "review-sentiment.log"
    with Microservice(MODEL_DIR, log_path=log) as running:
        yield running


def post(service: Microservice, message: dict) -> requests.Response:
    return requests.post(service.url + "/api/v1.0/predictions", json=message, timeout=30)


def grpc_predict(service: Microservice, message: dict):
    with grpc.insecure_channel(service.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = prediction_pb2_grpc.ModelStub(channel)
        return stub.Predict(json_to_seldon_message(message), timeout=30)


def assert_answers(body: dict, want: np.ndarray, classes: list[str]) -> None:
    assert body["data"]["names"] == classes
    got = np.asarray(body["data"]["ndarray"], dtype=float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


# ---- the artifact and its inferred contract ----------------------------------------------------


def test_pipeline_takes_a_plain_list_of_strings(pipeline):
    probabilities = pipeline.predict_proba(["great", "terrible"])
    assert probabilities.shape == (2, 2)
    assert list(pipeline.classes_) == ["negative", "positive"]
    assert probabilities[0, 1] > 0.5 > probabilities[1, 1]
    with pytest.raises(ValueError, match="raw text documents"):
        pipeline.predict_proba("great")  # one bare string is not a batch


def test_empty_string_gives_the_intercept_only_probabilities(pipeline):
    vectorizer, classifier = pipeline.named_steps["tfidf"], pipeline.named_steps["clf"]
    assert vectorizer.transform([""]).nnz == 0  # no tokens: an all-zero TF-IDF row
    zeros = np.zeros((1, len(vectorizer.vocabulary_)))
    np.testing.assert_array_equal(pipeline.predict_proba([""]), classifier.predict_proba(zeros))


def test_inferred_contract_is_one_text_input_and_the_class_probabilities(manifest, pipeline):
    assert manifest.inputs == [TextSpec(name="text")]
    (output,) = manifest.outputs
    assert output.name == "predict_proba"
    assert output.names == [str(c) for c in pipeline.classes_]
    assert output.shape == [-1, len(pipeline.classes_)]


def test_golden_pairs_are_the_pipelines_own_answers(manifest, expected):
    for pair in manifest.golden:
        want = expected(pair.input["text"])
        np.testing.assert_allclose(pair.output["predict_proba"], want, rtol=1e-12, atol=0)


def test_wrapper_loads_ready_and_answers_like_the_pipeline(expected):
    model = SklearnModel(model_dir=MODEL_DIR)
    model.load()
    assert model.ready, model.problem
    texts = [*TEXTS, "", *UNICODE]
    np.testing.assert_allclose(model.predict(texts), expected(texts), rtol=1e-12, atol=0)


# ---- served: REST and gRPC ---------------------------------------------------------------------

FORMS = {
    "ndarray of strings": lambda texts: {"data": {"ndarray": texts}},
    "ndarray of one-string rows": lambda texts: {"data": {"ndarray": [[t] for t in texts]}},
    "jsonData list": lambda texts: {"jsonData": texts},
}


@pytest.mark.e2e
@pytest.mark.parametrize("form", sorted(FORMS))
def test_rest_batch_forms_equal_the_pipeline(service, expected, pipeline, form):
    answer = post(service, FORMS[form](TEXTS))
    assert answer.status_code == 200, answer.text
    assert_answers(answer.json(), expected(TEXTS), list(pipeline.classes_))


@pytest.mark.e2e
def test_rest_str_data_is_one_text(service, expected, pipeline):
    answer = post(service, {"strData": "one text: really great"})
    assert answer.status_code == 200, answer.text
    assert_answers(answer.json(), expected(["one text: really great"]), list(pipeline.classes_))


@pytest.mark.e2e
def test_rest_unicode_and_empty_texts(service, expected, pipeline):
    texts = [*UNICODE, ""]
    answer = post(service, {"data": {"ndarray": texts}})
    assert answer.status_code == 200, answer.text
    assert_answers(answer.json(), expected(texts), list(pipeline.classes_))


@pytest.mark.e2e
def test_grpc_ndarray_equals_the_pipeline(service, expected, pipeline):
    texts = [*TEXTS, *UNICODE]
    body = seldon_message_to_json(grpc_predict(service, {"data": {"ndarray": texts}}))
    assert_answers(body, expected(texts), list(pipeline.classes_))


@pytest.mark.e2e
def test_grpc_str_data_equals_the_pipeline(service, expected, pipeline):
    body = seldon_message_to_json(grpc_predict(service, {"strData": "très bon 👍"}))
    assert_answers(body, expected(["très bon 👍"]), list(pipeline.classes_))


@pytest.mark.e2e
def test_metadata_declares_the_text_input(service, manifest, pipeline):
    metadata = requests.get(service.url + "/metadata", timeout=10).json()
    (text,) = metadata["inputs"]
    assert text["schema"] == manifest.inputs[0].model_dump()
    assert text["schema"]["kind"] == "text" and text["schema"]["name"] == "text"
    (output,) = metadata["outputs"]
    assert output["schema"]["names"] == list(pipeline.classes_)


# ---- bad requests: 400 naming the input and the row --------------------------------------------


def bad_request(service: Microservice, message: dict) -> str:
    answer = post(service, message)
    assert answer.status_code == 400, answer.text
    return answer.json()["status"]["info"]


@pytest.mark.e2e
def test_a_number_instead_of_a_string_names_the_row(service):
    info = bad_request(service, {"data": {"ndarray": ["great", 3]}})
    assert "text" in info and "expected a string in row 1" in info and "int" in info


@pytest.mark.e2e
def test_grpc_number_instead_of_a_string_is_invalid_argument(service):
    with pytest.raises(grpc.RpcError) as caught:
        grpc_predict(service, {"data": {"ndarray": ["great", 3]}})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected a string in row 1" in caught.value.details()


@pytest.mark.e2e
def test_a_row_of_two_strings_is_refused(service):
    info = bad_request(service, {"data": {"ndarray": [["good", "bad"], ["fine", "ok"]]}})
    assert "text" in info and "row 0 has 2 values" in info and "one string" in info
    # a ragged batch fails the envelope check first, which names data.ndarray, not the input
    info = bad_request(service, {"data": {"ndarray": [["great"], ["good", "bad"]]}})
    assert "data.ndarray" in info


@pytest.mark.e2e
def test_a_text_longer_than_max_length_is_refused(service, manifest):
    (spec,) = manifest.inputs
    limit = spec.max_length
    assert post(service, {"strData": "a" * limit}).status_code == 200
    info = bad_request(service, {"data": {"ndarray": ["fine", "a" * (limit + 1)]}})
    assert "text" in info and f"row 1 has {limit + 1} characters" in info and str(limit) in info


@pytest.mark.e2e
@pytest.mark.parametrize("message", [{"data": {"ndarray": []}}, {"jsonData": []}])
def test_an_empty_batch_is_refused(service, message):
    info = bad_request(service, message)
    assert "text" in info and "at least one row" in info
