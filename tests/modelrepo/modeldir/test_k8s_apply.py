"""SeldonDeployments sent to a real Kubernetes API server holding Seldon Core v1.18.2's CRD.

Every committed ``deployment.yaml`` and every ``modelrepo deploy`` output is created and read
back unchanged (nothing pruned); broken ones are refused with 422, as ``deployment_problems``
refuses them. What the CRD accepts but the operator would not (an unknown node type, a misspelt
field that the server drops) shows why the local checks go beyond the CRD.
"""

from __future__ import annotations

import copy
import uuid

import pytest
import yaml
from conftest import COMMITTED_MODELS, MODELS_DIR, NODE_MODELS, run_cli
from k8s_apiserver import ApiServer, missing, required

from modelrepo.modeldir import crd
from modelrepo.modeldir.deployment import API_VERSION, DEPLOYMENT_FILE, deployment_problems

PLURAL = "seldondeployments"


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    absent = missing()
    if absent:
        message = f"{', '.join(absent)} missing: make k8s-apiserver installs them"
        if required():
            pytest.fail(message)
        pytest.skip(message)
    with ApiServer(tmp_path_factory.mktemp("apiserver")) as server:
        server.install_crd(crd.definition())
        yield server


def create(server: ApiServer, resource: dict, namespace: str = "default"):
    url = server.collection(API_VERSION, PLURAL, resource["metadata"].get("namespace", namespace))
    return server.session.post(url, json=resource)


def unique(resource: dict) -> dict:
    named = copy.deepcopy(resource)
    named["metadata"]["name"] = f"{resource['metadata']['name'][:40]}-{uuid.uuid4().hex[:8]}"
    return named


def created_unchanged(server: ApiServer, resource: dict) -> None:
    answer = create(server, resource)
    assert answer.status_code == 201, answer.text
    url = server.collection(API_VERSION, PLURAL, answer.json()["metadata"]["namespace"])
    stored = server.session.get(f"{url}/{resource['metadata']['name']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["spec"] == resource["spec"], "the server pruned or changed fields"


def committed(name: str) -> dict:
    return yaml.safe_load((MODELS_DIR / name / DEPLOYMENT_FILE).read_text())


@pytest.mark.parametrize("name", COMMITTED_MODELS)
def test_committed_deployments_are_accepted_as_written(apiserver, name):
    created_unchanged(apiserver, committed(name))


@pytest.mark.parametrize("name", NODE_MODELS)
def test_committed_graph_nodes_deployments_are_accepted_as_written(apiserver, name):
    """Two versions of one model share its name: each is stored under a name of its own."""
    created_unchanged(apiserver, unique(committed(name)))


@pytest.mark.parametrize("name", COMMITTED_MODELS)
def test_deploy_command_output_is_accepted_as_written(apiserver, name):
    options = ["--workers", "2", "--replicas", "3", "--namespace", "deploy-command"]
    printed = run_cli("deploy", MODELS_DIR / name, *options, "--signing-key-secret", "signer")
    assert printed.exit_code == 0, printed.stderr
    created_unchanged(apiserver, yaml.safe_load(printed.output))


def _predictor(resource: dict) -> dict:
    return resource["spec"]["predictors"][0]


def _container(resource: dict) -> dict:
    return _predictor(resource)["componentSpecs"][0]["spec"]["containers"][0]


BREAKS = {
    "graph type not a string": lambda r: _predictor(r)["graph"].update(type=7),
    "graph without a name": lambda r: _predictor(r)["graph"].pop("name"),
    "predictor without a graph": lambda r: _predictor(r).pop("graph"),
    "replicas as text": lambda r: _predictor(r).update(replicas="2"),
    "parameter value not a string": lambda r: _predictor(r)["graph"]["parameters"][0].update(
        value=10000
    ),
    "parameter without a value": lambda r: _predictor(r)["graph"]["parameters"][0].pop("value"),
    "bad memory quantity": lambda r: _container(r)["resources"]["limits"].update(memory="1.5 GB"),
    "container port as text": lambda r: _container(r)["ports"][0].update(containerPort="9000"),
    "env not a list": lambda r: _container(r).update(env={"GUNICORN_WORKERS": "2"}),
    "predictors not a list": lambda r: r["spec"].update(predictors={"name": "default"}),
}


@pytest.mark.parametrize("change", sorted(BREAKS))
def test_broken_deployments_are_refused_with_422(apiserver, change):
    broken = unique(committed("sklearn-iris"))
    BREAKS[change](broken)
    assert deployment_problems(broken), "the local check accepts what the server refuses"
    answer = create(apiserver, broken)
    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "Invalid"


def test_the_crd_leaves_node_types_to_the_operator(apiserver):
    unknown = unique(committed("sklearn-iris"))
    _predictor(unknown)["graph"]["type"] = "PREDICTOR"
    assert create(apiserver, unknown).status_code == 201
    assert any("'PREDICTOR' is not one of" in p for p in deployment_problems(unknown))


def test_the_server_drops_a_misspelt_field_that_the_local_check_refuses(apiserver):
    misspelt = unique(committed("sklearn-iris"))
    _container(misspelt)["readynessProbe"] = _container(misspelt).pop("readinessProbe")
    answer = create(apiserver, misspelt)
    assert answer.status_code == 201, answer.text
    stored = answer.json()["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    assert "readynessProbe" not in stored and "readinessProbe" not in stored
    assert any("'readynessProbe' was unexpected" in p for p in deployment_problems(misspelt))
