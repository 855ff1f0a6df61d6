"""``modelrepo check graphs/NAME``: each node's model directory, then every parent-child
contract as Seldon's executor passes messages.

The nodes are model directories made by ``modelrepo new`` from real scikit-learn models
(tests/graph_dirs.py): ``iris`` takes 4 features x0..x3 and ``three`` 3 features x0..x2, both
answer 3 class probabilities named 0, 1, 2. Copies declare another kind, and some another
contract, to put each rule to the test.
"""

from __future__ import annotations

import pytest
from conftest import MODELS_DIR, run_cli
from graph_dirs import make_models, named, node, node_copy, write_graph

from modelrepo.modeldir.graph import Graph
from modelrepo.modeldir.graph_check import check_graph, contract_problems

FEATURES3, CLASSES = ["x0", "x1", "x2"], ["0", "1", "2"]


def _labels(manifest: dict) -> None:
    manifest["outputs"][0].update(dtype="int64", shape=[-1], names=None)


def _integers(manifest: dict) -> None:
    manifest["inputs"][0].update(dtype="int64")


FITTING = {
    "transformer then model": node("scale", "scaler", node("classify", "three")),
    "router": node("split", "split", node("first", "iris"), node("second", "iris-b")),
    "combiner": node("vote", "vote", node("first", "iris"), node("second", "iris-b")),
    "output transformer": node("calibrate", "calibrate", node("classify", "iris")),
    "model then model": node("first", "iris-to-three", node("second", "three")),
}
MISFITS = {
    "columns by name": (
        node("scale", "scaler-classes", node("classify", "three")),
        "scale outputs -> classify inputs: 'predict_proba' -> 'input': columns "
        "['0', '1', '2'] are sent, ['x0', 'x1', 'x2'] are taken",
    ),
    "width": (
        node("scale", "scaler", node("classify", "iris")),
        "scale outputs -> classify inputs: 'predict_proba' -> 'input': shape [-1, 3] is sent, "
        "[-1, 4] is taken",
    ),
    "dtype": (
        node("scale", "scaler", node("classify", "three-integers")),
        "scale outputs -> classify inputs: 'predict_proba' -> 'input': dtype float64 is sent, "
        "int64 is taken",
    ),
    "router's request": (
        node("split", "split", node("first", "iris"), node("second", "three")),
        "split inputs (passed on) -> second inputs: 'input' -> 'input': shape [-1, 4] is sent, "
        "[-1, 3] is taken",
    ),
    "combiner's children disagree": (
        node("vote", "vote", node("first", "iris"), node("second", "labels")),
        "second outputs -> first outputs: 'predict_proba' -> 'predict_proba': shape [-1] is "
        "sent, [-1, 3] is taken",
    ),
    "combiner's inputs": (
        node("vote", "vote-features", node("first", "iris"), node("second", "iris-b")),
        "first outputs -> vote inputs: 'predict_proba' -> 'input': columns ['0', '1', '2'] are "
        "sent, ['x0', 'x1', 'x2'] are taken",
    ),
    "output transformer's inputs": (
        node("calibrate", "calibrate", node("classify", "labels")),
        "classify outputs -> calibrate inputs: 'predict_proba' -> 'input': shape [-1] is sent, "
        "[-1, 3] is taken",
    ),
    "a table taken": (
        node("scale", "scaler", node("score", "loan-pipeline")),
        "scale outputs -> score inputs: 'predict_proba' -> 'table': tensor float64 [-1, 3] "
        "is sent, table columns",
    ),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    models = make_models(root)
    (models / "loan-pipeline").symlink_to(MODELS_DIR / "loan-pipeline")
    node_copy(models, "iris", "iris-b", "model")
    node_copy(models, "iris", "iris-to-three", "model", named("outputs", FEATURES3))
    node_copy(models, "iris", "scaler", "transformer", named("outputs", FEATURES3))
    node_copy(models, "iris", "scaler-classes", "transformer")
    node_copy(models, "three", "three-integers", "model", _integers)
    node_copy(models, "iris", "split", "router")
    node_copy(models, "three", "vote", "combiner", named("inputs", CLASSES))
    node_copy(models, "three", "vote-features", "combiner")
    node_copy(models, "three", "calibrate", "output_transformer", named("inputs", CLASSES))
    node_copy(models, "iris", "labels", "model", _labels)
    for i, tree in enumerate([*FITTING.values(), *(t for t, _ in MISFITS.values())]):
        write_graph(root, f"graph-{i}", tree)
    return root


def graph_dir(repo, case: str):
    return repo / "graphs" / f"graph-{[*FITTING, *MISFITS].index(case)}"


@pytest.mark.parametrize("case", sorted(FITTING))
def test_contracts_that_fit_pass(repo, case):
    graph = Graph.read(graph_dir(repo, case))
    found = contract_problems(graph)
    assert found and all(problems == [] for _, problems in found)


@pytest.mark.parametrize("case", sorted(MISFITS))
def test_each_misfit_names_both_nodes_and_the_field(repo, case):
    _, message = MISFITS[case]
    report = check_graph(graph_dir(repo, case))
    assert not report.passed
    failed = [f.detail for f in report.findings if f.status == "fail"]
    assert any(detail.startswith(message) for detail in failed), failed


def test_the_command_checks_every_node_then_the_contracts(repo):
    checked = run_cli("check", graph_dir(repo, "transformer then model"))
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert f"{repo / 'models' / 'scaler'}: PASSED" in checked.output
    assert f"{repo / 'models' / 'three'}: PASSED" in checked.output
    assert "scale outputs fit classify inputs" in checked.output
    assert checked.output.rstrip().endswith(f"{graph_dir(repo, 'transformer then model')}: PASSED")


def test_the_command_fails_on_a_misfit(repo):
    checked = run_cli("check", graph_dir(repo, "width"))
    assert checked.exit_code == 1
    assert "shape [-1, 3] is sent, [-1, 4] is taken" in checked.output
    assert "1 directory failed the check" in checked.stderr


def test_a_graph_naming_a_missing_model_directory_fails(repo):
    broken = write_graph(repo, "broken", node("scale", "scaler", node("gone", "no-such-model")))
    checked = run_cli("check", broken)
    assert checked.exit_code == 1
    assert "names model directories that are not there: ['no-such-model']" in checked.output


@pytest.mark.parametrize("parent", ["iris-tree-router", "iris-mean-combiner"])
def test_a_node_given_another_number_of_children_than_it_takes_fails(repo, parent):
    """A built-in router or combiner declares its children (``options.children``: 2)."""
    for name in (parent, "iris-tree-v1"):
        if not (repo / "models" / name).exists():
            (repo / "models" / name).symlink_to(MODELS_DIR / name)
    trees = [node(f"tree-{i}", "iris-tree-v1") for i in range(3)]
    graph = write_graph(repo, f"three-under-{parent}", node("parent", parent, *trees))
    report = check_graph(graph)
    failed = [f.detail for f in report.findings if f.status == "fail"]
    assert failed == [
        f"parent ({parent}) takes 2 children, the graph gives it 3: a combiner would refuse "
        "every answer, a router pick a child that is not there"
    ]
    refused = run_cli("deploy", graph)
    assert refused.exit_code == 2 and "takes 2 children, the graph gives it 3" in refused.stderr
    fitting = write_graph(repo, f"two-under-{parent}", node("parent", parent, *trees[:2]))
    assert check_graph(fitting).passed
