"""A string column ``[N, 1]``: Keras ``Input(shape=(1,), dtype="string")`` and
``TextVectorization``, exported with ``model.export``, made with ``modelrepo new`` from a JSON
list of strings and served by the real microservice.

Besides rows of one string, it takes a flat list of strings, Seldon's ``strData`` (one row) and
a V2 ``[N]`` BYTES tensor, on every route that carries each form; every answer equals the Keras
model's own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli
from routes import seldon, v2
from user_models import TextColumnModel, text_column_model

from modelrepo.local.process import Microservice
from wrappers import Manifest
from wrappers.contract import TensorSpec

NAME = "review-column"
TEXTS = ["great value, works well", "awful, broke", "noisy"]
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> TextColumnModel:
    return text_column_model(tmp_path_factory.mktemp("text-user"))


@pytest.fixture(scope="module")
def model_dir(user, tmp_path_factory):
    made = tmp_path_factory.mktemp("text-dirs") / NAME
    result = run_cli("new", made, "-f", "tensorflow", "-a", user.artifact, "--sample", user.sample)
    assert result.exit_code == 0, result.output + result.stderr
    return made


@pytest.fixture(scope="module")
def service(model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{NAME}.log"
    with Microservice(model_dir, log_path=log) as running:
        yield running


def test_a_list_of_strings_is_the_sample_of_a_string_column(model_dir, user):
    manifest = Manifest.read(model_dir)
    assert manifest.inputs == [TensorSpec(name="text", dtype="string", shape=[-1, 1])]
    sample = json.loads(user.sample.read_text())
    assert manifest.golden[-1].input["text"] == [[t] for t in sample]
    np.testing.assert_allclose(
        manifest.golden[-1].output["output_0"], user.predict(sample), **TOLERANCE
    )


#: Seldon messages, by form: (message, the texts it carries, one per row)
SELDON_FORMS = {
    "rows of one string": ({"data": {"ndarray": [[t] for t in TEXTS]}}, TEXTS),
    "a flat ndarray": ({"data": {"ndarray": TEXTS}}, TEXTS),
    "a flat jsonData list": ({"jsonData": TEXTS}, TEXTS),
    "strData": ({"strData": TEXTS[0]}, TEXTS[:1]),
}


@pytest.mark.e2e
@pytest.mark.parametrize("route", ["seldon-rest", "seldon-grpc"])
@pytest.mark.parametrize("form", list(SELDON_FORMS))
def test_seldon_forms_answer_as_the_keras_model(service, user, route, form):
    message, texts = SELDON_FORMS[form]
    target = service.url if route == "seldon-rest" else service.grpc_target
    answer = seldon(route, target, message)
    assert answer.output is not None, answer.message
    np.testing.assert_allclose(answer.output, user.predict(texts), **TOLERANCE)


@pytest.mark.e2e
@pytest.mark.parametrize("route", ["v2-rest", "v2-grpc"])
@pytest.mark.parametrize("shape", [[len(TEXTS), 1], [len(TEXTS)]], ids=["[N, 1]", "[N]"])
def test_v2_bytes_tensors_answer_as_the_keras_model(service, user, route, shape):
    target = service.url if route == "v2-rest" else service.grpc_target
    tensor = {"name": "text", "datatype": "BYTES", "shape": shape, "data": TEXTS}
    answer = v2(route, target, NAME, tensor)
    assert answer.output is not None, answer.message
    np.testing.assert_allclose(answer.output, user.predict(TEXTS), **TOLERANCE)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("message", "said"),
    [
        ({"data": {"ndarray": [["a", "b"]]}}, "got 2 in dimension 1"),
        ({"data": {"ndarray": [[["a"]]]}}, "rank 3"),
        ({"data": {"ndarray": [1, 2]}}, "expected strings"),
    ],
)
def test_other_shapes_are_still_refused(service, message, said):
    answer = seldon("seldon-rest", service.url, message)
    assert answer.refused and said in answer.message, answer
