"""SeldonDeployment manifests: valid for the v1 CRD of Seldon Core 1.18.2 and sized by workers.

Every generated manifest is held to the vendored CRD's openAPIV3Schema
(modelrepo/modeldir/crd/), closed to unknown fields, and to the operator's rules the CRD
leaves out; tests/modelrepo/modeldir/test_k8s_apply.py sends them to a real API server.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from conftest import COMMITTED_MODELS, FRAMEWORKS, MODELS_DIR, NODE_MODELS, run_cli

from modelrepo.modeldir import servingfiles
from modelrepo.modeldir.deployment import (
    DEPLOYMENT_FILE,
    DeploymentOptions,
    deployment_problems,
    seldon_deployment,
)
from wrappers import Manifest
from wrappers.core.budget import Budget


def committed(name: str) -> dict:
    return yaml.safe_load((MODELS_DIR / name / DEPLOYMENT_FILE).read_text())


def container_of(resource: dict) -> dict:
    return resource["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]


@pytest.fixture(params=[*COMMITTED_MODELS, *(f"user-{f}" for f in FRAMEWORKS)])
def deployment(request, scaffolded) -> tuple[dict, Manifest]:
    """Each committed model's deployment.yaml and each scaffolded one."""
    name = request.param
    model_dir = scaffolded[name.removeprefix("user-")] if name.startswith("user-") else None
    model_dir = model_dir or MODELS_DIR / name
    return yaml.safe_load((model_dir / DEPLOYMENT_FILE).read_text()), Manifest.read(model_dir)


def test_every_deployment_is_valid(deployment):
    resource, manifest = deployment
    assert deployment_problems(resource) == []
    assert resource["apiVersion"] == "machinelearning.seldon.io/v1"
    assert resource["kind"] == "SeldonDeployment"
    assert resource["metadata"]["name"] == manifest.name


def test_container_serves_the_graph_node_with_probes_on_the_http_port(deployment):
    resource, manifest = deployment
    predictor = resource["spec"]["predictors"][0]
    container = container_of(resource)
    assert predictor["graph"]["name"] == container["name"]
    assert predictor["graph"]["type"] == "MODEL"
    assert container["image"] == f"modelrepo/{manifest.name}:{manifest.version}"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == 9000
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/status", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/ping", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health/ping", "port": "http"}


def test_the_pod_drains_before_it_is_killed(deployment):
    resource, _ = deployment
    pod = resource["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    container = container_of(resource)
    env = {e["name"]: e["value"] for e in container["env"]}
    drain, finish = float(env["MODELREPO_DRAIN_SECONDS"]), float(env["MODELREPO_FINISH_SECONDS"])
    hook = container["lifecycle"]["preStop"]["exec"]["command"]
    assert hook == ["python", "-m", "wrappers.server.drain"]
    assert pod["terminationGracePeriodSeconds"] > drain + finish
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "no time for slow loads"


def test_resources_follow_the_worker_count(deployment):
    resource, _ = deployment
    container = container_of(resource)
    env = {e["name"]: e["value"] for e in container["env"]}
    workers = env["GUNICORN_WORKERS"]
    assert container["resources"]["requests"]["cpu"] == workers
    assert container["resources"]["limits"] == container["resources"]["requests"]
    threads = int(env["GUNICORN_THREADS"])
    budget = Budget.for_machine(cpus=int(workers), workers=int(workers), threads=threads)
    assert {k: v for k, v in env.items() if k in budget.environment()} == budget.environment()


def test_model_parameters_are_the_wrappers_settings(deployment):
    resource, manifest = deployment
    parameters = {p["name"]: p for p in resource["spec"]["predictors"][0]["graph"]["parameters"]}
    assert parameters["max_batch_rows"] == {
        "name": "max_batch_rows",
        "type": "INT",
        "value": "10000",
    }
    assert parameters["verify_golden"]["value"] == "true"
    if "method" in manifest.options:
        assert parameters["method"]["value"] == manifest.options["method"]


def test_more_workers_ask_for_more_cores_and_memory():
    manifest = Manifest.read(MODELS_DIR / "tf-regressor")
    small, large = (
        seldon_deployment(manifest, MODELS_DIR / "tf-regressor", DeploymentOptions(workers=w))
        for w in (1, 3)
    )
    assert deployment_problems(large) == []
    assert container_of(large)["resources"]["requests"]["cpu"] == "3"
    memory = [int(container_of(r)["resources"]["limits"]["memory"][:-2]) for r in (small, large)]
    assert memory[1] > memory[0]


def test_deploy_command_prints_and_keeps_the_chosen_settings(tmp_path, scaffolded):
    model_dir = shutil.copytree(scaffolded["sklearn"], tmp_path / "user-sklearn")
    args = ["--image", "registry.local/m:7", "--replicas", "3", "--workers", "2"]
    printed = run_cli("deploy", model_dir, *args, "--namespace", "models", "--write")
    assert printed.exit_code == 0, printed.stderr
    resource = yaml.safe_load(printed.output)
    assert deployment_problems(resource) == []
    assert resource["spec"]["predictors"][0]["replicas"] == 3
    assert container_of(resource)["image"] == "registry.local/m:7"
    assert container_of(resource)["resources"]["requests"]["cpu"] == "2"
    assert resource["metadata"]["namespace"] == "models"
    assert yaml.safe_load((model_dir / DEPLOYMENT_FILE).read_text()) == resource
    # a later rewrite from the manifest keeps those choices
    assert run_cli("refresh", model_dir).exit_code == 0
    assert yaml.safe_load((model_dir / DEPLOYMENT_FILE).read_text()) == resource
    again = run_cli("deploy", model_dir, "--replicas", "5")
    assert container_of(yaml.safe_load(again.output))["image"] == "registry.local/m:7"


def test_a_signing_key_secret_is_mounted_and_makes_the_signature_required(tmp_path):
    model_dir = shutil.copytree(MODELS_DIR / "sklearn-iris", tmp_path / "sklearn-iris")
    printed = run_cli("deploy", model_dir, "--signing-key-secret", "model-signer", "--write")
    assert printed.exit_code == 0, printed.stderr
    resource = yaml.safe_load(printed.output)
    assert deployment_problems(resource) == []
    pod = resource["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    assert pod["volumes"][0]["secret"]["secretName"] == "model-signer"
    (mount,) = container_of(resource)["volumeMounts"]
    assert mount["readOnly"] and not mount["mountPath"].startswith("/microservice")
    env = {e["name"]: e["value"] for e in container_of(resource)["env"]}
    assert env["MODELREPO_SIGNATURE_POLICY"] == "require"
    assert env["MODELREPO_SIGNATURE_PUBLIC_KEY"].startswith(mount["mountPath"] + "/")
    # the choice survives a rewrite from the manifest
    assert run_cli("refresh", model_dir).exit_code == 0
    assert yaml.safe_load((model_dir / DEPLOYMENT_FILE).read_text()) == resource


@pytest.mark.parametrize("name", [*COMMITTED_MODELS, *NODE_MODELS])
def test_committed_serving_files_come_from_the_templates(name):
    model_dir = MODELS_DIR / name
    for relative, text in servingfiles.render(Manifest.read(model_dir), model_dir).items():
        assert (model_dir / relative).read_text() == text, f"{relative}: run modelrepo refresh"


def break_field(resource: dict, change: str) -> dict:
    broken = copy.deepcopy(resource)
    predictor = broken["spec"]["predictors"][0]
    container = container_of(broken)
    if change == "misspelt probe":
        container["readynessProbe"] = container.pop("readinessProbe")
    elif change == "replicas as text":
        predictor["replicas"] = "2"
    elif change == "unknown node type":
        predictor["graph"]["type"] = "PREDICTOR"
    elif change == "parameter type":
        predictor["graph"]["parameters"][0]["type"] = "BOOLEAN"
    elif change == "parameter value not a string":
        predictor["graph"]["parameters"][0]["value"] = 10000
    elif change == "bad quantity":
        container["resources"]["limits"]["memory"] = "1.5 GB"
    elif change == "wrong api version":
        broken["apiVersion"] = "machinelearning.seldon.io/v2"
    elif change == "no predictors":
        broken["spec"]["predictors"] = []
    elif change == "probe on a missing port":
        container["livenessProbe"]["httpGet"]["port"] = "web"
    elif change == "graph node without container":
        predictor["graph"]["name"] = "classifier"
    elif change == "cores differ from workers":
        container["resources"]["requests"]["cpu"] = "4"
    elif change == "duplicate port":
        container["ports"].append(dict(container["ports"][0]))
    elif change == "grace shorter than the drain":
        predictor["componentSpecs"][0]["spec"]["terminationGracePeriodSeconds"] = 20
    return broken


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("misspelt probe", "'readynessProbe' was unexpected"),
        ("replicas as text", "'2' is not of type 'integer'"),
        ("unknown node type", "'PREDICTOR' is not one of"),
        ("parameter type", "'BOOLEAN' is not one of"),
        ("parameter value not a string", "10000 is not of type 'string'"),
        ("bad quantity", "'1.5 GB' does not match"),
        ("wrong api version", "'machinelearning.seldon.io/v1' was expected"),
        ("no predictors", "Graph contains no predictors"),
        ("probe on a missing port", "livenessProbe probes port 'web'"),
        ("graph node without container", '"classifier": Can\'t find container for Predictive Unit'),
        ("cores differ from workers", "resources.requests.cpu is 4 but GUNICORN_WORKERS is 2"),
        ("duplicate port", "port names and numbers must be unique"),
        ("grace shorter than the drain", "terminationGracePeriodSeconds is 20 but"),
    ],
)
def test_invalid_deployments_are_refused_with_the_reason(change, message):
    problems = deployment_problems(break_field(committed("sklearn-iris"), change))
    assert any(message in p for p in problems), problems


def test_an_unreadable_deployment_falls_back_to_the_defaults(tmp_path):
    model_dir = shutil.copytree(MODELS_DIR / "sklearn-iris", tmp_path / "sklearn-iris")
    (model_dir / DEPLOYMENT_FILE).write_text("spec: [unclosed\n")
    printed = run_cli("deploy", model_dir)
    assert printed.exit_code == 0
    assert "using the default deployment settings" in printed.stderr
    assert deployment_problems(yaml.safe_load(printed.output)) == []
