"""``modelrepo deploy`` of graphs and rollouts: what it writes, what it refuses, and that the
real API server holding Seldon's CRD stores each kind of deployment unchanged.

Graph nodes are model directories made by ``modelrepo new`` (tests/graph_dirs.py); a canary,
an A/B peer or a shadow is a model directory, a graph directory or an image.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import MODELS_DIR, ROOT, run_cli
from graph_dirs import make_models, named, node, node_copy, write_graph
from test_k8s_apply import apiserver, created_unchanged, unique  # noqa: F401

from modelrepo.modeldir.deployment import (
    DEPLOYMENT_FILE,
    PRE_STOP,
    ROUTING_INJECTION,
    deployment_problems,
)
from modelrepo.modeldir.graph import Graph
from modelrepo.modeldir.graph_check import contract_problems

IRIS = MODELS_DIR / "sklearn-iris"
COMMITTED_GRAPHS = sorted(p.parent.name for p in (ROOT / "graphs").glob("*/graph.yaml"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """models/ with nodes of every kind, and graphs/ using them."""
    root = tmp_path_factory.mktemp("repo")
    models = make_models(root)
    node_copy(models, "iris", "iris-b", "model")
    node_copy(models, "iris", "scaler", "transformer", named("outputs", ["x0", "x1", "x2"]))
    node_copy(models, "three", "vote", "combiner", named("inputs", ["0", "1", "2"]))
    node_copy(models, "iris", "split", "router")
    node_copy(models, "three", "calibrate", "output_transformer", named("inputs", ["0", "1", "2"]))
    graphs = {
        "pipeline": node("scale", "scaler", node("classify", "three")),
        "ensemble": node("vote", "vote", node("first", "iris"), node("second", "iris-b")),
        "ab-test": node("split", "split", node("first", "iris"), node("second", "iris-b")),
        "calibrated": node("calibrate", "calibrate", node("classify", "iris")),
    }
    for name, tree in graphs.items():
        write_graph(root, name, tree)
    version_two = shutil.copytree(IRIS, root / "sklearn-iris-2")
    manifest = json.loads((version_two / "manifest.json").read_text())
    (version_two / "manifest.json").write_text(json.dumps({**manifest, "version": "2"}))
    return root


def deployed(*args: object) -> dict:
    printed = run_cli("deploy", *args)
    assert printed.exit_code == 0, printed.stderr
    resource = yaml.safe_load(printed.output)
    assert deployment_problems(resource) == []
    return resource


def units(graph: dict) -> list[dict]:
    return [graph, *(u for child in graph.get("children", []) for u in units(child))]


def test_a_graph_gets_a_container_per_node_and_its_tree(repo):
    resource = deployed(repo / "graphs" / "ensemble")
    assert resource["metadata"]["name"] == "ensemble"
    (predictor,) = resource["spec"]["predictors"]
    tree = predictor["graph"]
    assert [(u["name"], u["type"]) for u in units(tree)] == [
        ("vote", "COMBINER"),
        ("first", "MODEL"),
        ("second", "MODEL"),
    ]
    assert all(u["endpoint"] == {"type": "REST"} for u in units(tree))
    containers = [c for spec in predictor["componentSpecs"] for c in spec["spec"]["containers"]]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("vote", "modelrepo/vote:1"),
        ("first", "modelrepo/iris:1"),
        ("second", "modelrepo/iris-b:1"),
    ]
    for container in containers:
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/status"
        assert container["lifecycle"]["preStop"]["exec"]["command"] == PRE_STOP


@pytest.mark.parametrize(
    ("graph", "types"),
    [
        ("pipeline", ["TRANSFORMER", "MODEL"]),
        ("ab-test", ["ROUTER", "MODEL", "MODEL"]),
        ("calibrated", ["OUTPUT_TRANSFORMER", "MODEL"]),
    ],
)
def test_each_node_type_is_its_model_directorys_kind(repo, graph, types):
    (predictor,) = deployed(repo / "graphs" / graph)["spec"]["predictors"]
    assert [u["type"] for u in units(predictor["graph"])] == types


def test_a_canary_takes_its_share_of_the_traffic(repo):
    resource = deployed(IRIS, "--canary", repo / "sklearn-iris-2", "--traffic", "10")
    main, canary = resource["spec"]["predictors"]
    assert (main["name"], main["traffic"], canary["name"], canary["traffic"]) == (
        "default", 90, "canary", 10
    )  # fmt: skip
    image = canary["componentSpecs"][0]["spec"]["containers"][0]["image"]
    assert image == "modelrepo/sklearn-iris:2"


def test_an_image_is_a_second_version_of_the_same_model():
    resource = deployed(IRIS, "--ab", "registry.example.com/sklearn-iris:2")
    a, b = resource["spec"]["predictors"]
    assert (a["name"], a["traffic"], b["name"], b["traffic"]) == ("a", 50, "b", 50)
    images = [p["componentSpecs"][0]["spec"]["containers"][0]["image"] for p in (a, b)]
    assert images == ["modelrepo/sklearn-iris:1", "registry.example.com/sklearn-iris:2"]
    assert a["graph"] == b["graph"]


def test_a_shadow_gets_a_copy_of_every_request(repo):
    resource = deployed(IRIS, "--shadow", repo / "graphs" / "pipeline")
    main, shadow = resource["spec"]["predictors"]
    assert main["traffic"] == 100 and "shadow" not in main
    assert shadow["name"] == "shadow" and shadow["shadow"] is True
    assert shadow["graph"]["name"] == "scale"


def test_the_autoscaler_owns_every_components_replicas(repo):
    resource = deployed(repo / "graphs" / "pipeline", "--hpa", "2,8,70")
    (predictor,) = resource["spec"]["predictors"]
    assert predictor["replicas"] == 2
    target = {"type": "Utilization", "averageUtilization": 70}
    for component in predictor["componentSpecs"]:
        assert component["hpaSpec"] == {
            "minReplicas": 2,
            "maxReplicas": 8,
            "metricsv2": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        }


def test_the_logger_sits_on_each_predictors_root():
    args = ["--canary", "modelrepo/sklearn-iris:2", "--traffic", "25"]
    resource = deployed(IRIS, *args, "--logger", "http://logs.example/", "--logger-mode", "request")
    for predictor in resource["spec"]["predictors"]:
        assert predictor["graph"]["logger"] == {"url": "http://logs.example/", "mode": "request"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--traffic", "10"], "--traffic is the share of --canary or --ab"),
        (["--canary", "x/y:2"], "--canary needs --traffic N"),
        (["--canary", "x/y:2", "--ab", "x/y:3", "--traffic", "5"], "choose one"),
        (["--shadow", "modelrepo/sklearn-iris"], "nor an image with a tag (NAME:TAG)"),
        (["--shadow", MODELS_DIR], "neither a model directory nor a graph directory"),
        (["--hpa", "5,2,70"], "replicas need 1 <= MIN <= MAX"),
        (["--hpa", "2,5"], "is not MIN,MAX,CPU% such as 2,10,70"),
        (["--traffic", "120", "--ab", "x/y:3"], "120 is not in the range 0<=x<=100"),
    ],
)
def test_rollouts_that_cannot_be_written_are_refused(args, message):
    printed = run_cli("deploy", IRIS, *args)
    assert printed.exit_code == 2
    assert message in printed.stderr


def test_a_graphs_second_version_is_a_directory(repo):
    printed = run_cli("deploy", repo / "graphs" / "pipeline", "--canary", "x/y:2", "--traffic", "5")
    assert printed.exit_code == 2
    assert "a graph's second version is a model or graph directory" in printed.stderr
    printed = run_cli("deploy", repo / "graphs" / "pipeline", "--image", "x/y:2")
    assert printed.exit_code == 2 and "a graph's images are its nodes'" in printed.stderr


def test_a_graph_whose_contracts_do_not_fit_is_not_deployed(repo):
    misfit = write_graph(repo, "misfit", node("scale", "scaler", node("classify", "iris")))
    printed = run_cli("deploy", misfit)
    assert printed.exit_code == 2
    assert "scale outputs -> classify inputs: 'predict_proba' -> 'input': shape [-1, 3]" in (
        printed.stderr
    )
    printed = run_cli("deploy", IRIS, "--shadow", misfit)
    assert printed.exit_code == 2 and "graph misfit: scale outputs" in printed.stderr


def test_write_puts_the_graphs_deployment_beside_graph_yaml(repo, tmp_path):
    graph_dir = shutil.copytree(repo / "graphs" / "ensemble", repo / "graphs" / "ensemble-copy")
    printed = run_cli("deploy", graph_dir, "--workers", "2", "--write")
    assert printed.exit_code == 0, printed.stderr
    assert (graph_dir / "deployment.yaml").read_text().endswith(printed.output)
    again = deployed(graph_dir)
    containers = [c for s in again["spec"]["predictors"][0]["componentSpecs"]
                  for c in s["spec"]["containers"]]  # fmt: skip
    assert {c["resources"]["requests"]["cpu"] for c in containers} == {"2"}


def test_refresh_rewrites_a_graphs_deployment_keeping_its_choices(repo):
    graph_dir = shutil.copytree(repo / "graphs" / "ab-test", repo / "graphs" / "ab-refreshed")
    printed = run_cli("deploy", graph_dir, "--replicas", "3", "--namespace", "ab", "--write")
    assert printed.exit_code == 0, printed.stderr
    written = (graph_dir / DEPLOYMENT_FILE).read_text()
    (graph_dir / DEPLOYMENT_FILE).write_text(written.replace("'true'", "'false'"))
    refreshed = run_cli("refresh", graph_dir)
    assert refreshed.exit_code == 0, refreshed.stderr
    assert (graph_dir / DEPLOYMENT_FILE).read_text() == written
    (predictor,) = yaml.safe_load(written)["spec"]["predictors"]
    assert predictor["replicas"] == 3 and predictor["svcOrchSpec"]["env"] == [ROUTING_INJECTION]


def rollouts(repo) -> dict[str, list]:
    graphs = repo / "graphs"
    return {
        "model": [IRIS],
        "canary directory": [IRIS, "--canary", repo / "sklearn-iris-2", "--traffic", "10"],
        "canary image": [IRIS, "--canary", "modelrepo/sklearn-iris:2", "--traffic", "30"],
        "a/b": [IRIS, "--ab", repo / "sklearn-iris-2"],
        "shadow": [IRIS, "--shadow", "modelrepo/sklearn-iris:2"],
        "hpa and logger": [IRIS, "--hpa", "1,4,80", "--logger", "http://logs/"],
        "everything": [IRIS, "--canary", graphs / "pipeline", "--traffic", "20",
                       "--shadow", repo / "sklearn-iris-2", "--hpa", "2,6,60",
                       "--logger", "http://logs/", "--logger-mode", "response",
                       "--signing-key-secret", "signer", "--namespace", "rollouts"],
        **{f"graph {g}": [graphs / g] for g in ("pipeline", "ensemble", "ab-test", "calibrated")},
        "graph canary": [graphs / "ensemble", "--canary", graphs / "ab-test", "--traffic", "50"],
    }  # fmt: skip


ROLLOUTS = ["model", "canary directory", "canary image", "a/b", "shadow", "hpa and logger",
            "everything", "graph pipeline", "graph ensemble", "graph ab-test",
            "graph calibrated", "graph canary"]  # fmt: skip


@pytest.mark.parametrize("kind", ROLLOUTS)
def test_every_kind_of_deployment_is_stored_unchanged(apiserver, repo, kind):  # noqa: F811
    created_unchanged(apiserver, unique(deployed(*rollouts(repo)[kind])))


@pytest.mark.parametrize("name", COMMITTED_GRAPHS)
def test_committed_graphs_fit_and_are_stored_as_written(apiserver, name):  # noqa: F811
    graph_dir = ROOT / "graphs" / name
    assert [found for _, found in contract_problems(Graph.read(graph_dir)) if found] == []
    created_unchanged(apiserver, unique(deployed(graph_dir)))


@pytest.mark.parametrize("name", COMMITTED_GRAPHS)
def test_committed_graph_deployments_are_stored_as_written(apiserver, name):  # noqa: F811
    committed = yaml.safe_load((ROOT / "graphs" / name / DEPLOYMENT_FILE).read_text())
    assert deployment_problems(committed) == []
    created_unchanged(apiserver, unique(committed))


def test_a_predictor_with_a_router_has_its_executor_record_routes(apiserver, repo):  # noqa: F811
    """The executor writes ``meta.routing`` only with SELDON_ENABLE_ROUTING_INJECTION, and a
    router learns from feedback by it; a predictor without a router is left as it was."""
    graphs = repo / "graphs"
    resource = deployed(graphs / "ensemble", "--canary", graphs / "ab-test", "--traffic", "20")
    main, canary = resource["spec"]["predictors"]
    assert "svcOrchSpec" not in main
    assert canary["svcOrchSpec"] == {"env": [ROUTING_INJECTION]}
    assert ROUTING_INJECTION["name"] == "SELDON_ENABLE_ROUTING_INJECTION"
    created_unchanged(apiserver, unique(resource))
    shadowed = deployed(graphs / "ab-test", "--shadow", graphs / "pipeline")
    main, shadow = shadowed["spec"]["predictors"]
    assert main["svcOrchSpec"] == {"env": [ROUTING_INJECTION]}
    assert "svcOrchSpec" not in shadow
    created_unchanged(apiserver, unique(shadowed))
