"""The model's serving image, built by ``make image`` and run for real with podman.

The image is built once per test run (``make image MODEL=sklearn-iris``: no registry, the s2i
builder's own assemble inside the build); the container shares the host's network at loopback
ports and must answer ``request.json`` and the golden rows exactly as the model does in-process,
both when run alone and when ``podman kube play`` runs a Deployment of the pod spec in the
model's ``deployment.yaml``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from conftest import MODELS_DIR, ROOT

from modelrepo.local.container import ModelContainer, mismatches, podman, serving_environment
from modelrepo.local.kube import KubePlay, local_deployment, pod_spec
from modelrepo.modeldir.deployment import DEPLOYMENT_FILE

MODEL = "sklearn-iris"
#: the init of the pause container that ``podman kube play`` builds for a pod
CATATONIT = "/usr/libexec/podman/catatonit"


@pytest.fixture(scope="session")
def image() -> str:
    """The image's name, built once (``make image`` reuses the base and the builder)."""
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "tools" / "image" / "containers.conf"))
    absent = [tool for tool in ("podman", "mmdebstrap", "runc") if shutil.which(tool) is None]
    absent += [] if Path(CATATONIT).is_file() else ["catatonit"]
    if absent:
        message = f"{', '.join(absent)} missing: make image-tools installs them"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    built = subprocess.run(
        ["make", "--no-print-directory", "image", f"MODEL={MODEL}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return built.stdout.strip().splitlines()[-1]


@pytest.mark.e2e
def test_the_image_serves_what_the_model_predicts_in_process(image):
    with ModelContainer(image) as container:
        assert mismatches(container, MODELS_DIR / MODEL) == []
        labels = podman("inspect", "--format", "{{.Config.Cmd}}", container.name).stdout
    assert "/s2i/bin/run" in labels
    assert not container.running()


def test_the_image_holds_no_other_framework(image):
    listed = podman("run", "--rm", "--network=none", image, "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "scikit-learn" in installed and "seldon-core" in installed
    assert not installed & {"tensorflow", "tensorflow-cpu", "torch", "keras"}


def deployment(name: str = MODEL) -> dict:
    return yaml.safe_load((MODELS_DIR / name / DEPLOYMENT_FILE).read_text())


def test_the_local_deployment_changes_only_image_network_and_ports():
    resource, ports = deployment(), {"http": 19000, "grpc": 15000, "metrics": 16000}
    rendered = local_deployment(resource, "localhost/modelrepo/x:1", ports)
    template = rendered["spec"]["template"]
    assert rendered["spec"]["selector"]["matchLabels"] == template["metadata"]["labels"]
    pod, original = template["spec"], pod_spec(resource)
    assert pod.pop("hostNetwork") is True
    (container,), (before,) = pod["containers"], original["containers"]
    assert (container.pop("image"), container.pop("imagePullPolicy")) == (
        "localhost/modelrepo/x:1",
        "Never",
    )
    before.pop("image"), before.pop("imagePullPolicy")
    assert "ports" not in container and {p["name"] for p in before.pop("ports")} == set(ports)
    env = {e["name"]: e["value"] for e in container.pop("env")}
    assert env == {e["name"]: e["value"] for e in before.pop("env")} | serving_environment(ports)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"].pop("port") == ports["http"]
        assert before[probe]["httpGet"].pop("port") == "http"
    assert pod == original


@pytest.mark.e2e
def test_kube_play_of_the_deployments_pod_spec_serves_what_the_model_predicts(image):
    resource = deployment()
    spec = pod_spec(resource)["containers"][0]
    with KubePlay(image, resource=resource) as played:
        assert mismatches(played, MODELS_DIR / MODEL) == []
        (got,) = json.loads(podman("inspect", played.name).stdout)
        assert_podman_got_the_spec(got, spec, played)
        # the healthcheck's own command, as podman runs it (sh -c); not `podman healthcheck
        # run`, whose 2 s timeout counts runc's exec too, which a loaded machine can exceed
        kind, *command = got["Config"]["Healthcheck"]["Test"]
        assert kind == "CMD-SHELL"
        healthcheck = podman("exec", played.name, "/bin/sh", "-c", " ".join(command), check=False)
        assert healthcheck.returncode == 0, healthcheck.stdout + healthcheck.stderr
        # podman runs no lifecycle hooks: the kubelet's preStop, run as it would run it
        hook = spec["lifecycle"]["preStop"]["exec"]["command"]
        draining = subprocess.Popen(["podman", "exec", played.name, *hook])
        try:
            assert wait_for_status(played, 503), "the preStop hook did not start the drain"
            assert mismatches(played, MODELS_DIR / MODEL) == [], "no answers while draining"
        finally:
            assert draining.wait(timeout=120) == 0
    assert podman("container", "exists", played.name, check=False).returncode == 1


def assert_podman_got_the_spec(got: dict, spec: dict, played: KubePlay) -> None:
    """The container podman made holds the spec's environment, limits and liveness probe."""
    env = dict(line.split("=", 1) for line in got["Config"]["Env"])
    expected = {e["name"]: e["value"] for e in spec["env"]} | played.environment()
    assert {name: env.get(name) for name in expected} == expected
    assert got["ImageName"] == played.image
    assert got["HostConfig"]["NetworkMode"] == "host"
    limits = spec["resources"]["limits"]
    assert got["HostConfig"]["Memory"] == int(limits["memory"].removesuffix("Mi")) * 2**20
    assert got["HostConfig"]["NanoCpus"] == int(limits["cpu"]) * 10**9
    probe, check = spec["livenessProbe"], got["Config"]["Healthcheck"]
    assert f"http://localhost:{played.http_port}{probe['httpGet']['path']}" in check["Test"]
    assert check["Interval"] == probe["periodSeconds"] * 10**9
    assert check["Timeout"] == probe["timeoutSeconds"] * 10**9
    assert check["Retries"] == probe["failureThreshold"]


def wait_for_status(played: KubePlay, code: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(played.url + "/health/status", timeout=5).status_code == code:
            return True
        time.sleep(0.2)
    return False
