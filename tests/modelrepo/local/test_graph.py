"""A graph run locally: real microservices per node, walked as Seldon's executor walks them.

Every node is a plain Seldon user class (``tests/graph_nodes.py``) in a model directory made by
``modelrepo new`` and given its kind; each graph's nodes start once, for the class of its
tests. What the graph answers is held to the same classes composed in this process, and its meta
to the nodes' own tags and metrics merged as Seldon's wrapper merges them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import graph_nodes
import numpy as np
import pytest
import requests
import yaml
from conftest import run_cli

from modelrepo.local.graph import PUID_HEADER
from modelrepo.local.graph_run import GraphRun
from modelrepo.local.process import free_port
from modelrepo.modeldir.graph import Graph
from wrappers import Manifest

#: model directory -> (kind, the class in tests/graph_nodes.py, the attributes MyModel sets)
NODES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "offset": ("output_transformer", "Offset", {"label": "offset", "offset": 100.0}),
    "scale": ("transformer", "Scale", {"label": "scale", "factor": 3.0}),
    "linear": ("model", "Linear", {"label": "linear", "weight": 0.5, "bias": 1.0}),
    "router": ("router", "FirstValueRouter", {"label": "router"}),
    "mean": ("combiner", "Mean", {"label": "mean"}),
    "model-a": ("model", "Linear", {"label": "model-a", "weight": 1.0}),
    "model-b": ("model", "Linear", {"label": "model-b", "weight": -2.0, "bias": 1.0}),
    "model-c": ("model", "Linear", {"label": "model-c", "weight": 10.0}),
}


def tree(name: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "model": name, "children": list(children)}


GRAPHS = {
    "chain": tree("offset", tree("scale", tree("linear", tree("model-c")))),
    "routed": tree("router", tree("mean", tree("model-a"), tree("model-b")), tree("model-c")),
    "single": tree("linear"),
}


def node(name: str) -> graph_nodes.Node:
    """The class a node's microservice serves, made here."""
    _, base, attributes = NODES[name]
    return type("MyModel", (getattr(graph_nodes, base),), attributes)()


def my_model_source(base: str, attributes: dict[str, Any]) -> str:
    lines = [f"    {key} = {value!r}" for key, value in attributes.items()]
    return f"from graph_nodes import {base}\n\n\nclass MyModel({base}):\n" + "\n".join(lines) + "\n"


def make_node_dir(made: Path, target: Path, kind: str, base: str, attributes: dict) -> None:
    """A copy of a ``modelrepo new`` directory serving a graph_nodes class as ``kind``."""
    shutil.copytree(made, target)
    manifest = Manifest.read(target)
    manifest.model_copy(update={"kind": kind, "name": target.name}).write(target)
    shutil.copy(graph_nodes.__file__, target / "graph_nodes.py")
    (target / "MyModel.py").write_text(my_model_source(base, attributes))


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """models/<node> for every node and graphs/<name>/graph.yaml for every graph."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("repository")
    artifact = root / "m.joblib"
    joblib.dump(LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True)), artifact)
    made = root / "made"
    result = run_cli("new", made, "--framework", "sklearn", "--artifact", artifact)
    assert result.exit_code == 0, result.output + result.stderr
    for name, (kind, base, attributes) in NODES.items():
        make_node_dir(made, root / "models" / name, kind, base, attributes)
    for name, graph in GRAPHS.items():
        (root / "graphs" / name).mkdir(parents=True)
        spec = {"name": name, "graph": graph}
        (root / "graphs" / name / "graph.yaml").write_text(yaml.safe_dump(spec))
    return root


def running(repository: Path, name: str, tmp_path_factory):
    logs = tmp_path_factory.mktemp(f"{name}-logs")
    with GraphRun(Graph.read(repository / "graphs" / name), log_dir=logs) as run:
        yield run


@pytest.fixture(scope="class")
def chain(repository, tmp_path_factory):
    yield from running(repository, "chain", tmp_path_factory)


@pytest.fixture(scope="class")
def routed(repository, tmp_path_factory):
    yield from running(repository, "routed", tmp_path_factory)


def predict(run: GraphRun, body: Any, headers: dict | None = None) -> requests.Response:
    return requests.post(run.url + "/api/v1.0/predictions", json=body, headers=headers, timeout=60)


def feedback(run: GraphRun, body: Any) -> requests.Response:
    return requests.post(run.url + "/api/v1.0/feedback", json=body, timeout=60)


def values(answer: dict) -> np.ndarray:
    return np.asarray(answer["data"]["ndarray"], dtype=float)


def merged_tags(*nodes: graph_nodes.Node, start: dict | None = None) -> dict:
    tags = dict(start or {})
    for each in nodes:
        tags.update(each.tags())
    return tags


def user_metrics(meta: dict) -> list[dict]:
    """The metrics as the nodes gave them, without the method tag Seldon adds to each."""
    return [
        {**m, "tags": {k: v for k, v in m["tags"].items() if k != "method"}}
        for m in meta["metrics"]
    ]


def methods(meta: dict) -> list[str]:
    return [m["tags"]["method"] for m in meta["metrics"]]


def feedback_seen(repository: Path, reward: float) -> dict[str, Any]:
    """Node name -> the route it was told, for every node that recorded ``reward``."""
    seen = {}
    for path in sorted((repository / "models").glob(f"*/{graph_nodes.FEEDBACK_FILE}")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["reward"] == reward:
                seen[record["node"]] = record["routing"]
    return seen


ROWS = [[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]]


class TestChain:
    """offset -> scale -> linear -> model-c: each type in turn, one route."""

    def test_a_chain_transforms_predicts_and_transforms_the_output(self, chain):
        """offset(scale(linear(model-c))): a model with a child gives the child its prediction."""
        offset, scale, linear, c = node("offset"), node("scale"), node("linear"), node("model-c")
        body = {"data": {"ndarray": ROWS}, "meta": {"tags": {"client": "x"}}}

        answer = predict(chain, body)

        assert answer.status_code == 200, answer.text
        expected = offset.transform_output(c.predict(linear.predict(scale.transform_input(ROWS))))
        np.testing.assert_allclose(values(answer.json()), expected)
        meta = answer.json()["meta"]
        assert meta["tags"] == merged_tags(scale, linear, c, offset, start={"client": "x"})
        assert (
            user_metrics(meta)
            == scale.metrics() + linear.metrics() + c.metrics() + offset.metrics()
        )
        assert methods(meta) == ["inputtransform", "predict", "predict", "outputtransform"]
        assert meta["routing"] == {"offset": -1, "scale": -1, "linear": -1, "model-c": -1}

    def test_the_puid_is_kept_and_generated_when_absent(self, chain):
        body = {"data": {"ndarray": ROWS}, "meta": {"puid": "request-7"}}

        kept = predict(chain, body, headers={PUID_HEADER: "header-7"})
        generated = predict(chain, {"data": {"ndarray": ROWS}})

        assert kept.json()["meta"]["puid"] == "request-7"
        assert kept.headers[PUID_HEADER] == "header-7"
        assert uuid.UUID(generated.headers[PUID_HEADER])
        assert "puid" not in generated.json()["meta"]  # the executor does not write it in the body

    def test_a_nodes_refusal_is_answered_with_its_status_and_body(self, chain):
        answer = predict(chain, {"data": {"ndarray": [["a", "b"]]}})
        direct = requests.post(
            chain.services["scale"].url + "/transform-input",
            json={"data": {"ndarray": [["a", "b"]]}},
            timeout=60,
        )

        assert answer.status_code == direct.status_code != 200
        assert answer.json() == direct.json()

    def test_a_body_that_is_not_json_is_refused(self, chain):
        answer = requests.post(chain.url + "/api/v1.0/predictions", data=b"{not json", timeout=60)

        assert answer.status_code == 400
        assert answer.json()["status"]["status"] == "FAILURE"

    def test_the_graph_is_healthy_once_every_node_is(self, chain):
        with requests.Session() as connection:  # one kept-alive connection for the three
            health = connection.get(chain.url + "/api/v1.0/health/status", timeout=60)
            elsewhere = connection.post(chain.url + "/api/v1.0/elsewhere", json=ROWS, timeout=60)
            after = connection.post(
                chain.url + "/api/v1.0/predictions", json={"data": {"ndarray": ROWS}}
            )

        assert (health.status_code, health.json()) == (200, {"ready": True})
        assert elsewhere.status_code == 404
        assert after.status_code == 200, after.text

    def test_feedback_to_a_root_that_takes_none_answers_the_feedback_itself(
        self, chain, repository
    ):
        answer = predict(chain, {"data": {"ndarray": ROWS}}).json()
        body = {"request": {"data": {"ndarray": ROWS}}, "response": answer, "reward": 0.5}

        reply = feedback(chain, body)

        assert reply.status_code == 200, reply.text
        assert reply.json() == body
        assert feedback_seen(repository, 0.5) == {"linear": -1, "model-c": -1}


class TestRouted:
    """router -> [mean -> [model-a, model-b], model-c]: routes, a combiner, feedback."""

    def test_a_combiner_receives_its_childrens_answers_as_one_list(self, routed):
        router, mean, a, b = node("router"), node("mean"), node("model-a"), node("model-b")
        rows = [[0.0, 2.0, 3.0], [4.0, -1.0, 1.0]]  # route 0: the combiner

        answer = predict(routed, {"data": {"ndarray": rows}, "meta": {"tags": {"client": "x"}}})

        assert answer.status_code == 200, answer.text
        expected = mean.aggregate([a.predict(rows), b.predict(rows)])
        np.testing.assert_allclose(values(answer.json()), expected)
        meta = answer.json()["meta"]
        assert meta["tags"] == merged_tags(a, b, mean, start={"client": "x"})
        assert user_metrics(meta) == a.metrics() + b.metrics() + mean.metrics()
        assert methods(meta) == ["predict", "predict", "aggregate"]
        assert meta["routing"] == {"router": 0, "mean": -1, "model-a": -1, "model-b": -1}
        assert router.label not in meta["tags"]  # a route's answer is read, not passed on

    def test_a_route_to_child_n_calls_that_child_only(self, routed):
        rows = [[1.0, 2.0, 3.0]]

        answer = predict(routed, {"data": {"ndarray": rows}})

        np.testing.assert_allclose(values(answer.json()), node("model-c").predict(rows))
        assert answer.json()["meta"]["routing"] == {"router": 1, "model-c": -1}

    def test_a_route_of_minus_two_answers_the_request_itself(self, routed):
        body = {"data": {"ndarray": [[-2.0, 5.0]]}, "meta": {"tags": {"client": "x"}}}

        answer = predict(routed, body)

        assert answer.json() == {
            **body,
            "meta": {"tags": {"client": "x"}, "routing": {"router": -2}},
        }

    def test_a_route_of_minus_one_sends_to_every_child_and_keeps_the_first_answer(self, routed):
        mean, a, b = node("mean"), node("model-a"), node("model-b")
        rows = [[-1.0, 2.0, 3.0]]

        answer = predict(routed, {"data": {"ndarray": rows}})

        expected = mean.aggregate([a.predict(rows), b.predict(rows)])
        np.testing.assert_allclose(values(answer.json()), expected)
        routing = {"router": -1, "mean": -1, "model-a": -1, "model-b": -1, "model-c": -1}
        assert answer.json()["meta"]["routing"] == routing

    def test_a_route_to_a_child_that_is_not_there_is_the_executors_failure(self, routed):
        answer = predict(routed, {"data": {"ndarray": [[7.0, 1.0]]}})

        assert answer.status_code == 500
        assert answer.json()["status"]["status"] == "FAILURE"
        assert "router routed to 7" in answer.json()["status"]["info"]

    @pytest.mark.parametrize(
        ("first", "reward", "told"),
        [
            (1.0, 0.25, {"router": 1, "model-c": -1}),
            (0.0, 0.75, {"router": 0, "model-a": -1, "model-b": -1}),
        ],
    )
    def test_feedback_goes_down_the_routes_recorded_in_the_answer(
        self, routed, repository, first, reward, told
    ):
        rows = [[first, 2.0, 3.0]]
        answer = predict(routed, {"data": {"ndarray": rows}}).json()

        reply = feedback(
            routed, {"request": {"data": {"ndarray": rows}}, "response": answer, "reward": reward}
        )

        assert reply.status_code == 200, reply.text
        assert feedback_seen(repository, reward) == told  # a model is told its own -1
        assert reply.json()["meta"]["tags"] == node("router").tags()  # the root's own reply


def test_serve_a_graph_dry_run_shows_each_nodes_command(repository):
    result = run_cli("serve", repository / "graphs" / "chain", "--dry-run")

    assert result.exit_code == 0, result.output + result.stderr
    commands = {
        name: (cd, line) for name, cd, line in re.findall(r"# (\S+)\n(.*)\n(.*)", result.output)
    }
    assert sorted(commands) == ["linear", "model-c", "offset", "scale"]
    assert commands["linear"][0] == f"cd {repository / 'models' / 'linear'}"
    assert "--service-type MODEL" in commands["linear"][1]
    assert "--service-type TRANSFORMER" in commands["scale"][1]
    # Seldon's microservice takes no OUTPUT_TRANSFORMER; every type answers every route
    assert "--service-type TRANSFORMER" in commands["offset"][1]


def test_serve_a_graph_answers_on_its_port_until_stopped(repository):
    port = free_port()
    command = [sys.executable, "-m", "modelrepo.cli", "serve", "--http-port", str(port)]
    serving = subprocess.Popen(
        [*command, str(repository / "graphs" / "single")],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SELDON_LOG_LEVEL": "WARNING"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, serving)
        rows = [[1.0, 2.0]]
        answer = requests.post(url + "/api/v1.0/predictions", json={"data": {"ndarray": rows}})
        np.testing.assert_allclose(values(answer.json()), node("linear").predict(rows))
    finally:
        serving.send_signal(signal.SIGTERM)
        _, errors = serving.communicate(timeout=60)
    (node_url,) = re.findall(r"linear \(MODEL\): (http://\S+)", errors)
    with pytest.raises(requests.ConnectionError):  # the node is stopped with the graph
        requests.get(node_url + "/health/ping", timeout=5)


def wait_healthy(url: str, serving: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert serving.poll() is None, serving.communicate()[1]
        try:
            if requests.get(url + "/api/v1.0/health/status", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout}s")
