"""The committed graph nodes under the real microservice, on REST and gRPC: loan-preprocess
(TRANSFORMER), iris-mean-combiner (COMBINER), iris-tree-router (ROUTER), and an
OUTPUT_TRANSFORMER and two more routers made here with ``modelrepo new``. Answers are compared
with the components in process: the fitted preprocessing, the children's own predictions, a
seeded policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from conftest import MODELS_DIR, run_cli
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import json_to_feedback, json_to_seldon_message, seldon_message_to_json
from sklearn.datasets import load_iris
from sklearn.preprocessing import Binarizer

from modelrepo.local.process import Microservice
from modelrepo.modeldir.rebuild import train_module
from wrappers import BuiltinModel, Manifest, SklearnModel
from wrappers.core.routing import Policy, RouterConfig
from wrappers.server.payload_log import FEEDBACK_TYPE

pytestmark = pytest.mark.e2e

IRIS = load_iris()
FLOWERS = IRIS.data[[0, 60, 120, 140]].tolist()
SPECIES = ["setosa", "versicolor", "virginica"]
APPLICATIONS: list[dict[str, Any]] = [
    {"age": 29, "income": 41250.5, "city": "Lisbon", "employment": "employed", "owns_home": True},
    {"age": 61, "income": None, "city": "Oslo", "employment": "self-employed", "owns_home": False},
    {"age": 45, "income": 12000.0, "city": "Rome", "employment": "unemployed", "owns_home": False},
]


def serve(model_dir: Path, log_dir: Path, **env: str) -> Microservice:
    """One worker, one thread: a router's state is that worker's."""
    return Microservice(Path(model_dir), env=env, log_path=log_dir / f"{Path(model_dir).name}.log")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """Every node's microservice, started together and stopped at the end of the module."""
    made = tmp_path_factory.mktemp("nodes")
    dirs = {
        "transformer": MODELS_DIR / "loan-preprocess",
        "combiner": MODELS_DIR / "iris-mean-combiner",
        "router": MODELS_DIR / "iris-tree-router",
        "output_transformer": output_transformer_dir(made),
        "thompson": new_router(made / "thompson", "--route", "thompson", "--seed", "1"),
        "ab": new_router(made / "ab", "--route", "ab", "--weights", "0.8,0.2", "--seed", "3"),
    }
    started = {kind: serve(path, made).start() for kind, path in dirs.items()}
    try:
        for service in started.values():
            service.wait_ready(timeout=120)
        yield started
    finally:
        for service in started.values():
            service.stop()


def output_transformer_dir(root: Path) -> Path:
    """An OUTPUT_TRANSFORMER over iris probabilities: each species over 0.5 or not."""
    frame = pd.DataFrame(np.full((2, 3), 0.3), columns=SPECIES)
    joblib.dump(Binarizer(threshold=0.5).fit(frame), root / "binarizer.joblib")
    (root / "probabilities.json").write_text(json.dumps([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    made = run_cli(
        "new", root / "over-half", "--kind", "output_transformer", "-f", "sklearn",
        "-a", root / "binarizer.joblib", "--method", "transform", "--features", ",".join(SPECIES),
        "--sample", root / "probabilities.json", "--no-check",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return root / "over-half"


def new_router(model_dir: Path, *flags: str) -> Path:
    made = run_cli(
        "new", model_dir, "--kind", "router", "--children", "2",
        "--like", MODELS_DIR / "iris-tree-v1", "--no-check", *flags,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return model_dir


def post(service: Microservice, path: str, body: Any) -> requests.Response:
    return requests.post(service.url + path, json=body, timeout=30)


def grpc_call(service: Microservice, stub: str, method: str, message: Any) -> dict:
    with grpc.insecure_channel(service.grpc_target) as channel:
        call = getattr(getattr(prediction_pb2_grpc, stub)(channel), method)
        return seldon_message_to_json(call(message, timeout=30))


def ndarray(body: dict) -> np.ndarray:
    return np.asarray(body["data"]["ndarray"], dtype=np.float64)


def in_process(name: str, rows: Any) -> np.ndarray:
    model = SklearnModel(model_dir=MODELS_DIR / name)
    model.load()
    return np.asarray(model.predict(rows), dtype=np.float64)


# ---- transformer -------------------------------------------------------------------------------


def test_transformer_answers_transform_input_as_its_fitted_preprocessing(services):
    prep, _, _ = train_module(MODELS_DIR / "loan-preprocess").fitted()
    expected = prep.transform(pd.DataFrame(APPLICATIONS))
    body = {"jsonData": APPLICATIONS}
    rest = post(services["transformer"], "/transform-input", body)
    assert rest.status_code == 200, rest.text
    answer = grpc_call(
        services["transformer"], "TransformerStub", "TransformInput", json_to_seldon_message(body)
    )
    names = Manifest.read(MODELS_DIR / "loan-preprocess").outputs[0].names
    for served in (rest.json(), answer):
        assert served["data"]["names"] == names == list(prep.get_feature_names_out())
        np.testing.assert_allclose(ndarray(served), expected, rtol=1e-12)
    np.testing.assert_allclose(in_process("loan-preprocess", APPLICATIONS), expected, rtol=1e-12)


def test_the_transformers_answer_is_what_loan_classifier_takes(services):
    """The two steps compose: the classifier on the transformer's answer equals loan-pipeline's
    own model retrained on the same data (both are seeded: the same fit)."""
    transformed = post(services["transformer"], "/transform-input", {"jsonData": APPLICATIONS})
    proba = in_process("loan-classifier", transformed.json()["data"]["ndarray"])
    loans = train_module(MODELS_DIR / "loan-pipeline")
    frame, decisions = loans.applications(np.random.default_rng(loans.SEED), loans.N_APPLICATIONS)
    pipeline = loans.pipeline().fit(frame, decisions)
    np.testing.assert_allclose(proba, pipeline.predict_proba(pd.DataFrame(APPLICATIONS)), atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "path", "answers"),
    [
        ("transformer", "/api/v1.0/predictions", "/transform-input"),
        ("transformer", "/route", "/transform-input"),
        ("combiner", "/transform-input", "/aggregate"),
        ("router", "/aggregate", "/route"),
        ("output_transformer", "/transform-input", "/transform-output"),
    ],
)
def test_another_kinds_endpoint_is_404_naming_the_nodes_own(services, kind, path, answers):
    refused = post(services[kind], path, {"data": {"ndarray": FLOWERS}})
    assert refused.status_code == 404
    assert f"is a {kind}: it answers {answers}" in refused.json()["status"]["info"]


def test_grpc_refuses_another_kinds_method_as_not_found(services):
    with pytest.raises(grpc.RpcError) as caught:
        grpc_call(
            services["transformer"],
            "ModelStub",
            "Predict",
            json_to_seldon_message({"jsonData": APPLICATIONS}),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# ---- output transformer ------------------------------------------------------------------------


def test_output_transformer_answers_transform_output_on_rest_and_grpc(services):
    body = {"data": {"names": SPECIES, "ndarray": [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]]}}
    expected = Binarizer(threshold=0.5).fit_transform(np.asarray(body["data"]["ndarray"]))
    rest = post(services["output_transformer"], "/transform-output", body)
    assert rest.status_code == 200, rest.text
    answer = grpc_call(
        services["output_transformer"],
        "OutputTransformerStub",
        "TransformOutput",
        json_to_seldon_message(body),
    )
    for served in (rest.json(), answer):
        np.testing.assert_array_equal(ndarray(served), expected)
        assert served["data"]["names"] == SPECIES


# ---- combiner ----------------------------------------------------------------------------------


def children_outputs() -> list[np.ndarray]:
    return [in_process("sklearn-iris", FLOWERS), in_process("iris-tree-v1", FLOWERS)]


def message_list(outputs: list[Any], names: list[str] | None = SPECIES) -> dict:
    def data(rows: Any) -> dict:
        return (
            {"names": names, "ndarray": np.asarray(rows).tolist()}
            if names
            else {"ndarray": np.asarray(rows).tolist()}
        )

    return {
        "seldonMessages": [
            {"data": data(rows), "meta": {"tags": {f"child{i}": "yes"}, "puid": f"p{i}"}}
            for i, rows in enumerate(outputs)
        ]
    }


def test_combiner_answers_the_mean_of_its_childrens_predictions(services):
    outputs = children_outputs()
    body = message_list(outputs)
    rest = post(services["combiner"], "/aggregate", body)
    assert rest.status_code == 200, rest.text
    proto = prediction_pb2.SeldonMessageList(
        seldonMessages=[json_to_seldon_message(m) for m in body["seldonMessages"]]
    )
    answer = grpc_call(services["combiner"], "CombinerStub", "Aggregate", proto)
    for served in (rest.json(), answer):
        np.testing.assert_allclose(ndarray(served), np.mean(outputs, axis=0), rtol=1e-12)
        assert served["data"]["names"] == SPECIES
        tags = served["meta"]["tags"]
        assert tags["child0"] == tags["child1"] == "yes"  # merged as Seldon merges them
        assert tags["model_name"] == "iris-mean-combiner"
        assert served["meta"]["puid"] == "p0"


def test_combiner_takes_the_json_list_seldons_executor_sends(services):
    """The executor joins the children's answers into a bare JSON list over REST."""
    body = message_list(children_outputs())
    listed = post(services["combiner"], "/aggregate", body["seldonMessages"])
    assert listed.status_code == 200, listed.text
    wrapped = post(services["combiner"], "/aggregate", body).json()
    assert listed.json()["data"] == wrapped["data"]
    assert listed.json()["meta"]["tags"] == wrapped["meta"]["tags"]
    refused = post(services["combiner"], "/aggregate", [])
    assert refused.status_code == 400
    assert "seldonMessages is empty" in refused.json()["status"]["info"]
    assert post(services["router"], "/route", [FLOWERS[0]]).status_code == 400


@pytest.mark.parametrize(
    ("outputs", "names", "reason"),
    [
        (
            [np.full((4, 3), 0.3), np.full((3, 3), 0.3)],
            SPECIES,
            "child 1's predict_proba has shape",
        ),
        ([np.full((4, 3), 0.3), np.full((4, 2), 0.5)], None, "child 1: predict_proba: expected 3"),
        ([np.full((4, 3), 0.3)] * 3, SPECIES, "expects 2 children's outputs, got 3"),
    ],
)
def test_combiner_refuses_children_that_do_not_match(services, outputs, names, reason):
    body = message_list(outputs, names)
    refused = post(services["combiner"], "/aggregate", body)
    assert refused.status_code == 400
    assert reason in refused.json()["status"]["info"]
    proto = prediction_pb2.SeldonMessageList(
        seldonMessages=[json_to_seldon_message(m) for m in body["seldonMessages"]]
    )
    with pytest.raises(grpc.RpcError) as caught:
        grpc_call(services["combiner"], "CombinerStub", "Aggregate", proto)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in caught.value.details()


def test_combiner_refuses_children_that_name_their_columns_differently(services):
    body = message_list(children_outputs())
    body["seldonMessages"][1]["data"]["names"] = ["versicolor", "setosa", "virginica"]
    body["seldonMessages"][0]["data"]["names"] = SPECIES
    refused = post(services["combiner"], "/aggregate", body)
    assert refused.status_code == 400
    assert "children's outputs differ: child 1's predict_proba names" in refused.text


# ---- routers -----------------------------------------------------------------------------------


def routes(service: Microservice, count: int) -> list[int]:
    """``count`` routes over REST, each also recorded in ``meta.routing`` under the unit."""
    chosen = []
    for _ in range(count):
        answer = post(service, "/route", {"data": {"ndarray": FLOWERS[:1]}})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        (route,) = body["data"]["ndarray"][0]
        assert body["meta"]["routing"] == {"0": route}
        chosen.append(route)
    return chosen


def feedback(service: Microservice, child: int, reward: float) -> requests.Response:
    body = {
        "request": {"data": {"ndarray": FLOWERS[:1]}},
        "response": {"meta": {"routing": {"0": child}}},
        "reward": reward,
    }
    return post(service, "/api/v1.0/feedback", body)


def grpc_routes(service: Microservice, count: int) -> list[int]:
    message = json_to_seldon_message({"data": {"ndarray": FLOWERS[:1]}})
    chosen = []
    for _ in range(count):
        answer = grpc_call(service, "RouterStub", "Route", message)
        (route,) = answer["data"]["ndarray"][0]
        assert answer["meta"]["routing"] == {"0": route}
        chosen.append(int(route))
    return chosen


def test_ab_router_routes_as_its_seeded_policy_does_on_rest_and_grpc(services):
    """REST's worker and the gRPC server are processes of their own: each draws the seeded
    sequence from the start."""
    policy = Policy(RouterConfig(route="ab", children=2, weights=[0.8, 0.2], seed=3))
    expected = [policy.choose() for _ in range(40)]
    assert routes(services["ab"], 40) == expected
    assert grpc_routes(services["ab"], 10) == expected[:10]
    assert 0 < expected.count(1) < expected.count(0)


def test_feedback_moves_the_epsilon_greedy_routers_choice(services):
    router = services["router"]
    before = routes(router, 30)
    assert before.count(0) > 24  # no reward yet: the first child, but for exploration
    for _ in range(5):
        assert feedback(router, 0, 0.0).status_code == 200
        assert feedback(router, 1, 1.0).status_code == 200
    after = routes(router, 30)
    assert after.count(1) > 24


def test_feedback_over_grpc_moves_the_thompson_routers_choice(services):
    router = services["thompson"]
    with grpc.insecure_channel(router.grpc_target) as channel:
        stub = prediction_pb2_grpc.RouterStub(channel)
        for child, reward in [(0, 1.0), (1, 0.0)] * 20:
            body = {
                "request": {"data": {"ndarray": FLOWERS[:1]}},
                "response": {"meta": {"routing": {"0": child}}},
                "reward": reward,
            }
            stub.SendFeedback(json_to_feedback(body), timeout=30)
    chosen = grpc_routes(router, 40)  # the gRPC server learnt it; REST's worker did not
    assert chosen.count(0) > 36  # Beta(21, 1) against Beta(1, 21)


def test_router_feedback_without_its_route_is_refused(services):
    body = {"request": {"data": {"ndarray": FLOWERS[:1]}}, "reward": 1}
    refused = post(services["router"], "/api/v1.0/feedback", body)
    assert refused.status_code == 400
    assert "response.meta.routing" in refused.json()["status"]["info"]
    assert feedback(services["router"], 2, 1.0).status_code == 400  # no third child
    assert feedback(services["thompson"], 0, 5.0).status_code == 400  # rewards are in [0, 1]


def test_router_checks_its_inputs_against_the_childrens_contract(services):
    refused = post(services["router"], "/route", {"data": {"ndarray": [[1.0, 2.0]]}})
    assert refused.status_code == 400
    assert "4 features per row" in refused.json()["status"]["info"]


# ---- feedback: logged, and a user hook -------------------------------------------------------


def wait_for(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_feedback_is_payload_logged_as_the_executor_logs_it(tmp_path):
    log = tmp_path / "payloads.jsonl"
    env = {"MODELREPO_PAYLOAD_LOG": str(log), "MODELREPO_PAYLOAD_LOG_RATE": "1"}
    with serve(MODELS_DIR / "iris-tree-router", tmp_path, **env) as router:
        assert feedback(router, 1, 1.0).status_code == 200
        lines = lambda: log.read_text().splitlines() if log.exists() else []  # noqa: E731
        wait_for(lambda: len(lines()) >= 1)
        events = [json.loads(line) for line in lines()]
    (event,) = [e for e in events if e["type"] == FEEDBACK_TYPE]
    assert event["data"]["reward"] == 1
    assert event["data"]["response"]["meta"]["routing"] == {"0": 1}


def test_a_mymodel_send_feedback_hook_is_called(tmp_path):
    """A user class overrides Seldon's ``send_feedback`` and keeps the router learning."""
    model_dir = tmp_path / "router"
    for file in (MODELS_DIR / "iris-tree-router").iterdir():
        (model_dir / file.name).parent.mkdir(exist_ok=True)
        if file.is_file():
            (model_dir / file.name).write_bytes(file.read_bytes())
    rewards = tmp_path / "rewards.txt"
    (model_dir / "MyModel.py").write_text(
        "from pathlib import Path\n"
        "from wrappers import BuiltinModel\n\n\n"
        "class MyModel(BuiltinModel):\n"
        "    default_model_dir = Path(__file__).resolve().parent\n\n"
        "    def send_feedback(self, features, names, reward, truth, routing=None):\n"
        f"        with open({str(rewards)!r}, 'a') as f:\n"
        "            f.write(f'{routing} {reward}\\n')\n"
        "        return super().send_feedback(features, names, reward, truth, routing)\n"
    )
    with serve(model_dir, tmp_path) as router:
        for _ in range(3):
            assert feedback(router, 1, 1.0).status_code == 200
        assert routes(router, 10).count(1) > 7
    assert rewards.read_text().splitlines() == ["1 1.0"] * 3


def test_in_process_combiner_equals_the_served_one(services):
    model = BuiltinModel(model_dir=MODELS_DIR / "iris-mean-combiner")
    model.load()
    assert model.ready, model.problem
    body = message_list(children_outputs())
    served = post(services["combiner"], "/aggregate", body).json()
    np.testing.assert_allclose(ndarray(served), model.aggregate_raw(body)["data"]["ndarray"])
