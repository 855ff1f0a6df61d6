"""``modelrepo new`` for each kind of graph node: transformers from scikit-learn, torch and
TensorFlow artifacts, the built-in combiners and routers from flags, a stacking combiner from
a fitted final estimator. Each directory is loaded by its wrapper (golden pairs replayed) and
answers Seldon's method for its kind as the component does in process."""

from __future__ import annotations

import json

import grpc
import joblib
import numpy as np
import pytest
import requests
from conftest import MODELS_DIR, run_cli
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelrepo.local.process import Microservice
from wrappers import BuiltinModel, Manifest, SklearnModel, TFModel, TorchModel, wrapper_for
from wrappers.core.combine import COMBINER_FILE
from wrappers.core.routing import ROUTER_FILE

IRIS = load_iris()
SPECIES = ["setosa", "versicolor", "virginica"]


def new(*args: object) -> Manifest:
    made = run_cli("new", *args)
    assert made.exit_code == 0, made.stderr
    return Manifest.read(args[0])  # type: ignore[arg-type]


def loaded(model_dir) -> object:
    manifest = Manifest.read(model_dir)
    model = wrapper_for(manifest.framework)(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    return model


def children(rows: int = 4, seed: int = 5) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [generator.dirichlet(np.ones(3), rows) for _ in range(2)]


def aggregate(model, outputs: list[np.ndarray]) -> np.ndarray:
    body = {"seldonMessages": [{"data": {"ndarray": o.tolist()}} for o in outputs]}
    return np.asarray(model.aggregate_raw(body)["data"]["ndarray"])


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--combine", "mean"], lambda a, b: (a + b) / 2),
        (["--combine", "weighted", "--weights", "3,1"], lambda a, b: 0.75 * a + 0.25 * b),
        (
            ["--combine", "vote"],
            lambda a, b: (np.eye(3)[a.argmax(1)] + np.eye(3)[b.argmax(1)]) / 2,
        ),
    ],
    ids=["mean", "weighted", "vote"],
)
def test_new_makes_a_builtin_combiner_from_flags(tmp_path, flags, expected):
    model_dir = tmp_path / "combiner"
    manifest = new(
        model_dir, "--kind", "combiner", *flags, "--children", "2",
        "--like", MODELS_DIR / "sklearn-iris",
    )  # fmt: skip
    assert (manifest.kind, manifest.framework) == ("combiner", "builtin")
    assert [a.path for a in manifest.artifacts] == [COMBINER_FILE]
    assert len(manifest.golden) == 2
    assert manifest.outputs[0].names == SPECIES
    assert "--service-type COMBINER" in (model_dir / "MyModel.py").read_text()
    assert "SERVICE_TYPE=COMBINER" in (model_dir / ".s2i/environment").read_text()
    outputs = children()
    np.testing.assert_allclose(aggregate(loaded(model_dir), outputs), expected(*outputs))


@pytest.mark.parametrize(
    ("flags", "config"),
    [
        (["--route", "ab", "--weights", "6,3,1"], {"route": "ab", "weights": [6.0, 3.0, 1.0]}),
        (["--route", "epsilon-greedy", "--epsilon", "0.2"], {"route": "epsilon-greedy"}),
        (["--route", "thompson"], {"route": "thompson"}),
    ],
    ids=["ab", "epsilon-greedy", "thompson"],
)
def test_new_makes_a_builtin_router_from_flags(tmp_path, flags, config):
    model_dir = tmp_path / "router"
    manifest = new(
        model_dir, "--kind", "router", *flags, "--children", "3", "--seed", "7",
        "--like", MODELS_DIR / "sklearn-iris",
    )  # fmt: skip
    assert manifest.kind == "router" and manifest.golden == []
    assert manifest.inputs == Manifest.read(MODELS_DIR / "sklearn-iris").inputs
    written = json.loads((model_dir / ROUTER_FILE).read_text())
    assert written.items() >= {**config, "children": 3, "seed": 7}.items()
    router = loaded(model_dir)
    answer = router.route_raw({"data": {"ndarray": IRIS.data[:2].tolist()}})
    (route,) = answer["data"]["ndarray"][0]
    assert route in (0, 1, 2) and answer["meta"]["routing"] == {"0": route}


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--combine", "weighted", "--children", "2"], "weights are given for"),
        (["--combine", "mean"], "--children N"),
        (["--combine", "mean", "--route", "ab", "--children", "2"], "give one"),
        (["--route", "ab", "--weights", "1,2,3", "--children", "2"], "give 2 non-negative"),
        (["--route", "thompson", "--children", "2", "--kind", "combiner"], "makes a router"),
        (["--kind", "router", "-f", "sklearn", "-a", __file__], "a router is built in"),
        (["--combine", "mean", "--children", "2", "--features", "a", "-a", __file__], "from flags"),
    ],
)
def test_new_refuses_flags_that_make_no_node(tmp_path, args, reason):
    refused = run_cli("new", tmp_path / "node", "--features", "a,b", *args)
    assert refused.exit_code != 0
    assert reason in refused.stderr


def test_new_makes_a_sklearn_transformer_that_answers_transform_input(tmp_path):
    from sklearn.preprocessing import StandardScaler

    frame = __import__("pandas").DataFrame(IRIS.data, columns=["a", "b", "c", "d"])
    scaler = StandardScaler().fit(frame)
    joblib.dump(scaler, tmp_path / "scaler.joblib")
    frame.head(5).to_csv(tmp_path / "rows.csv", index=False)
    model_dir = tmp_path / "scale"
    manifest = new(
        model_dir, "--kind", "transformer", "-f", "sklearn", "-a", tmp_path / "scaler.joblib",
        "--sample", tmp_path / "rows.csv",
    )  # fmt: skip
    assert manifest.kind == "transformer" and manifest.output_names == ["transform"]
    answer = loaded(model_dir).transform_input_raw({"data": {"ndarray": IRIS.data[:3].tolist()}})
    np.testing.assert_allclose(answer["data"]["ndarray"], scaler.transform(frame.head(3)))
    assert answer["data"]["names"] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_new_makes_a_network_a_transformer(tmp_path, user_models, framework):
    user = user_models[framework]
    model_dir = tmp_path / framework
    manifest = new(
        model_dir, "--kind", "transformer", "-f", framework, "-a", user.artifact, *user.new_args
    )
    assert manifest.kind == "transformer"
    model = (TorchModel if framework == "torch" else TFModel)(model_dir=model_dir)
    model.load()
    answer = model.transform_input_raw({"data": {"ndarray": user.rows.tolist()}})
    np.testing.assert_allclose(answer["data"]["ndarray"], user.predict(user.rows), rtol=1e-5)


@pytest.fixture(scope="module")
def stacking(tmp_path_factory):
    """A final LogisticRegression fitted on two iris classifiers' probabilities side by side."""
    root = tmp_path_factory.mktemp("stacking")
    first, second = (
        SklearnModel(model_dir=MODELS_DIR / n) for n in ("sklearn-iris", "iris-tree-v1")
    )
    first.load(), second.load()
    side_by_side = np.hstack([first.predict(IRIS.data), second.predict(IRIS.data)])
    final = LogisticRegression(max_iter=500).fit(side_by_side, IRIS.target_names[IRIS.target])
    joblib.dump(final, root / "final.joblib")
    model_dir = root / "stack"
    new(
        model_dir, "--kind", "combiner", "-f", "sklearn", "-a", root / "final.joblib",
        "--children", "2", "--like", MODELS_DIR / "sklearn-iris",
    )  # fmt: skip
    return model_dir, final, (first, second)


def test_stacking_combiner_answers_its_final_estimator_on_rest_and_grpc(stacking, tmp_path):
    model_dir, final, (first, second) = stacking
    manifest = Manifest.read(model_dir)
    assert (manifest.kind, manifest.options["children"]) == ("combiner", 2)
    rows = IRIS.data[[3, 70, 140]]
    outputs = [np.asarray(first.predict(rows)), np.asarray(second.predict(rows))]
    expected = final.predict_proba(np.hstack(outputs))
    body = {"seldonMessages": [{"data": {"ndarray": o.tolist()}} for o in outputs]}
    with Microservice(model_dir, log_path=tmp_path / "stack.log") as service:
        rest = requests.post(service.url + "/aggregate", json=body, timeout=30)
        with grpc.insecure_channel(service.grpc_target) as channel:
            from seldon_core.proto import prediction_pb2

            message = prediction_pb2.SeldonMessageList(
                seldonMessages=[json_to_seldon_message(m) for m in body["seldonMessages"]]
            )
            grpc_answer = prediction_pb2_grpc.CombinerStub(channel).Aggregate(message, timeout=30)
    assert rest.status_code == 200, rest.text
    np.testing.assert_allclose(rest.json()["data"]["ndarray"], expected, rtol=1e-9)
    answer = seldon_message_to_json(grpc_answer)
    np.testing.assert_allclose(answer["data"]["ndarray"], expected, rtol=1e-9)


def test_stacking_needs_children_whose_outputs_fill_the_estimators_columns(stacking, tmp_path):
    model_dir, _, _ = stacking
    refused = run_cli(
        "new", tmp_path / "bad", "--kind", "combiner", "-f", "sklearn",
        "-a", model_dir / "model.skops", "--children", "3", "--like", MODELS_DIR / "sklearn-iris",
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "takes 6 columns" in refused.stderr


def test_a_builtin_that_is_no_combiner_or_router_is_refused(tmp_path):
    model_dir = tmp_path / "mean"
    new(
        model_dir, "--kind", "combiner", "--combine", "mean", "--children", "2", "--features", "p,q"
    )
    manifest = Manifest.read(model_dir)
    manifest.kind = "transformer"
    manifest.write(model_dir)
    with pytest.raises(Exception, match="a built-in is a combiner or a router"):
        BuiltinModel(model_dir=model_dir)
