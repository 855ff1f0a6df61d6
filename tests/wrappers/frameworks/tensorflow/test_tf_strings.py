"""A TensorFlow SavedModel with a string input and string and integer outputs, end to end in
process: `modelrepo new` reads the contract from the signature, and the wrapper answers REST and
gRPC messages with the strings TensorFlow computed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from wrappers import InvalidInput, Manifest, TFModel
from wrappers.contract import TensorSpec

TEXTS = ["Hello", "wörld", "", "Seldon serves strings"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import tensorflow as tf

    class Shout(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"shout": tf.strings.upper(text), "length": tf.strings.length(text, "UTF8_CHAR")}

    root = tmp_path_factory.mktemp("tf-strings")
    module = Shout()
    tf.saved_model.save(module, str(root / "export"), signatures={"serving_default": module.serve})
    (root / "texts.json").write_text(json.dumps(TEXTS))
    made = root / "shout"
    result = run_cli(
        "new", made, "-f", "tensorflow", "-a", root / "export", "--sample", root / "texts.json"
    )
    assert result.exit_code == 0, result.stderr
    return made


def own_answers(model_dir, texts: list[str]) -> dict[str, list]:
    """What TensorFlow's own eager signature answers: the path the wrapper does not take."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(model_dir.parent / "export")).signatures["serving_default"]
    answers = serve(text=tf.constant(texts))
    return {
        "shout": [b.decode() for b in answers["shout"].numpy()],
        "length": answers["length"].numpy().tolist(),
    }


def test_the_contract_comes_from_the_signature(model_dir):
    manifest = Manifest.read(model_dir)
    assert manifest.inputs == [TensorSpec(name="text", dtype="string", shape=[-1])]
    assert [(s.name, s.dtype, s.shape) for s in manifest.outputs] == [
        ("length", "int32", [-1]),
        ("shout", "string", [-1]),
    ]
    assert manifest.golden[-1].output["shout"] == own_answers(model_dir, TEXTS)["shout"]


@pytest.mark.parametrize("as_proto", [False, True], ids=["rest", "grpc"])
def test_strings_in_and_out(model_dir, as_proto):
    model = TFModel(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    message = {"jsonData": {"text": ["ok", "straße"]}}
    if as_proto:
        answer = seldon_message_to_json(model.predict_raw(json_to_seldon_message(message)))
    else:
        answer = model.predict_raw(message)
    expected = own_answers(model_dir, ["ok", "straße"])
    assert answer["jsonData"]["shout"] == expected["shout"] == ["OK", "STRAßE"]
    assert np.array_equal(answer["jsonData"]["length"], expected["length"])
    assert expected["length"] == [2, 6]


@pytest.mark.parametrize(
    ("texts", "fragment"),
    [(["ok", 5], "expected strings, got a value of type int"), (["\ud800"], "valid UTF-8")],
)
def test_what_is_no_text_is_refused(model_dir, texts, fragment):
    model = TFModel(model_dir=model_dir)
    model.load()
    with pytest.raises(InvalidInput, match=fragment):
        model.predict_raw({"jsonData": {"text": texts}})
