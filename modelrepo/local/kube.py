"""A SeldonDeployment's pod spec as an ``apps/v1`` Deployment that ``podman kube play`` runs.

Seldon's operator wraps ``spec.predictors[0].componentSpecs[0].spec`` into the Deployment it
creates; :func:`local_deployment` does the same with what a single host needs instead of a
cluster's network: the pod shares the host's network (no bridge, no private addresses), the
model's servers bind 127.0.0.1 at free ports through the variables ``s2i/bin/run`` reads, and the
probes name those ports by number. Everything else (environment, resources, probes, the preStop
hook, the grace period) is the spec as written. ``python -m modelrepo.local.kube MODEL_DIR IMAGE``
(``make kube-play``) plays the Deployment of ``MODEL_DIR/deployment.yaml``, compares its answers
with the in-process model's and takes it down.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelrepo.local.container import ModelContainer, podman, report, serving_environment
from modelrepo.modeldir.deployment import DEPLOYMENT_FILE, NODE


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    """The first predictor's pod spec, as Seldon's operator reads it (a copy)."""
    return copy.deepcopy(resource["spec"]["predictors"][0]["componentSpecs"][0]["spec"])


def local_deployment(
    resource: dict[str, Any], image: str, ports: dict[str, int], name: str | None = None
) -> dict[str, Any]:
    """An ``apps/v1`` Deployment of one replica of ``resource``'s pod spec on the host's network.

    The model container runs ``image`` (a local one: never pulled) with each declared port moved
    to ``ports[its name]``. Its ``ports`` list is then dropped: on the host's network nothing is
    published, and podman refuses port mappings there. Probes get the moved port's number (a
    named one becomes 0 in podman's healthcheck).
    """
    pod = pod_spec(resource)
    pod["hostNetwork"] = True
    container = next(c for c in pod["containers"] if c["name"] == NODE)
    container["image"] = image
    container["imagePullPolicy"] = "Never"
    declared = container.pop("ports", [])
    moved = {p["name"]: ports[p["name"]] for p in declared}
    moved.update({p["containerPort"]: ports[p["name"]] for p in declared})
    extra = serving_environment({p["name"]: ports[p["name"]] for p in declared})
    env = [e for e in container.get("env", []) if e["name"] not in extra]
    container["env"] = env + [{"name": k, "value": v} for k, v in extra.items()]
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        for handler in ("httpGet", "tcpSocket", "grpc"):
            action = container.get(kind, {}).get(handler)
            if action and action.get("port") in moved:  # a port's name or former number
                action["port"] = moved[action["port"]]
    name = name or resource["metadata"]["name"]
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


@dataclass
class KubePlay(ModelContainer):
    """``podman kube play`` of :func:`local_deployment` for ``resource``; ``podman kube down``
    on exit. ``name`` names the Deployment, then, once played, its model container."""

    resource: dict[str, Any] = field(default_factory=dict)
    kube_yaml: str | None = None

    def start(self) -> KubePlay:
        deployment = local_deployment(self.resource, self.image, self.ports, self.name)
        self.kube_yaml = yaml.safe_dump(deployment, sort_keys=False)
        played = podman("kube", "play", "-", stdin=self.kube_yaml, check=False)
        if played.returncode != 0:
            raise RuntimeError(f"podman kube play failed:\n{played.stdout}{played.stderr}")
        # it prints "Pod:", the pod's id, "Container:" and the id of each container
        (self.name,) = played.stdout.split("Container:")[-1].split()
        return self

    def stop(self) -> None:
        """``podman kube down``: the pod stops as podman stops it (SIGTERM, then SIGKILL)."""
        if self.kube_yaml is not None:
            podman("kube", "down", "-", stdin=self.kube_yaml, check=False)


def main(argv: list[str]) -> int:
    model_dir = Path(argv[0])
    resource = yaml.safe_load((model_dir / DEPLOYMENT_FILE).read_text())
    return report(KubePlay(argv[1], resource=resource), model_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
