"""The SeldonDeployment of a model directory: how a model scales past one machine.

One predictor runs the model's image in one container; replicas scale it out, and the container
asks for one core per gunicorn worker. Probes: a startup probe on ``/health/ping`` (which answers
once a worker has loaded) gives a slow load minutes before liveness counts; readiness is
``/health/status``, 200 only once a worker has verified its artifact and replayed the golden
pairs, so a broken model stops the rollout instead of taking traffic (and is not restarted, which
would not fix it); liveness checks only that the process answers. On the way out the preStop hook
starts the drain (``wrappers.server.drain``) and the grace period covers the drain and the slowest
request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from modelrepo.modeldir import crd, webhook
from wrappers.core.budget import Budget
from wrappers.core.manifest import Manifest
from wrappers.settings import ServerSettings, Settings

DEPLOYMENT_FILE = "deployment.yaml"
API_VERSION = "machinelearning.seldon.io/v1"
#: the graph node, and the container that serves it, share this name
NODE = "model"
#: the predictor of a deployment without a rollout
PREDICTOR = "default"
#: the ports ``seldon-core-microservice`` listens on by default, named as the operator expects
PORTS = {"http": 9000, "grpc": 5000, "metrics": 6000}
READY_PATH, LIVE_PATH = "/health/status", "/health/ping"
#: how long a load may take before the kubelet restarts the container: period x threshold
STARTUP_PERIOD, STARTUP_FAILURES = 2, 150
#: after the drain and the slowest request, time for the processes to exit
EXIT_MARGIN_SECONDS = 10
PRE_STOP = ["python", "-m", "wrappers.server.drain"]
#: MiB before any worker (the microservice's main, gunicorn, gRPC and metrics processes) and per
#: worker, from the proportional set size of the committed models' process groups (sklearn about
#: 600 MiB with one worker, +30 per worker; tensorflow about the same; torch 1070, +240), rounded
#: up with headroom; every worker also holds the artifact, counted twice on top
MEMORY_MIB = {
    "sklearn": (640, 128),
    "tensorflow": (640, 256),
    "torch": (1024, 384),
    "builtin": (384, 64),
    "sentence-transformers": (1024, 512),
    "xgboost": (640, 192),
    "lightgbm": (640, 160),
}
#: where a signing key Secret is mounted (outside /microservice, the model directory)
KEY_VOLUME, KEY_DIR, KEY_FILE = "signing-key", "/etc/modelrepo/signing", "public.pem"
#: the API server's rule for the names of the Services the operator makes from a deployment's
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
#: the values of Seldon's Go enums, which the CRD types as plain strings
NODE_TYPES = ("UNKNOWN_TYPE", "ROUTER", "COMBINER", "MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER")
ENDPOINT_TYPES = ("REST", "GRPC")
PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")
#: the executor writes each route into an answer's ``meta.routing`` only with this set; a
#: router's feedback names the child that answered by that route, so a bandit learns only with it
ROUTING_INJECTION = {"name": "SELDON_ENABLE_ROUTING_INJECTION", "value": "true"}
HEADER = "# SeldonDeployment written by `modelrepo` from manifest.json: kubectl apply -f {file}\n"


@dataclass(frozen=True)
class DeploymentOptions:
    """What a deployment may choose; everything else follows from the manifest."""

    image: str | None = None
    replicas: int = 1
    workers: int = 1
    threads: int = 1
    namespace: str | None = None
    drain_seconds: float = ServerSettings.model_fields["drain_seconds"].default
    finish_seconds: float = ServerSettings.model_fields["finish_seconds"].default
    #: the Kubernetes Secret holding the signer's public key (``public.pem``): the server then
    #: requires a valid ``model.sig`` and reads the key from the Secret's read-only mount
    signing_key_secret: str | None = None

    def image_for(self, manifest: Manifest) -> str:
        return self.image or f"modelrepo/{manifest.name}:{manifest.version}"

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> DeploymentOptions:
        """Reads the choices back from a deployment written before, so a rewrite keeps them."""
        predictor = (resource.get("spec", {}).get("predictors") or [{}])[0]
        containers = [
            c for spec in predictor.get("componentSpecs", []) for c in spec["spec"]["containers"]
        ]
        # a model's one container, or a graph's first node
        container = next((c for c in containers if c.get("name") == NODE), None)
        container = container or (containers[0] if containers else {})
        env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
        volumes = [
            v
            for spec in predictor.get("componentSpecs", [])
            for v in spec["spec"].get("volumes", [])
        ]
        secret = next(
            (v["secret"]["secretName"] for v in volumes if v.get("name") == KEY_VOLUME), None
        )
        return cls(
            image=container.get("image"),
            replicas=int(predictor.get("replicas", 1)),
            workers=int(env.get("GUNICORN_WORKERS", 1)),
            threads=int(env.get("GUNICORN_THREADS", 1)),
            namespace=resource.get("metadata", {}).get("namespace"),
            drain_seconds=float(env.get("MODELREPO_DRAIN_SECONDS", cls.drain_seconds)),
            finish_seconds=float(env.get("MODELREPO_FINISH_SECONDS", cls.finish_seconds)),
            signing_key_secret=secret,
        )

    @property
    def server_settings(self) -> ServerSettings:
        return ServerSettings(drain_seconds=self.drain_seconds, finish_seconds=self.finish_seconds)

    @classmethod
    def from_file(cls, model_dir: Path) -> DeploymentOptions:
        """The options of ``deployment.yaml`` in ``model_dir``, or the defaults without one."""
        path = Path(model_dir) / DEPLOYMENT_FILE
        if not path.is_file():
            return cls()
        try:
            return cls.from_resource(yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise UnreadableDeployment(f"{path} is not a SeldonDeployment: {exc!r}") from exc


class UnreadableDeployment(ValueError):
    """deployment.yaml exists but its settings cannot be read back."""


def seldon_deployment(
    manifest: Manifest, model_dir: Path, options: DeploymentOptions
) -> dict[str, Any]:
    """The SeldonDeployment resource for the model in ``model_dir``."""
    predictor = model_predictor(manifest, model_dir, options)
    return deployment_resource(manifest.name, manifest.version, options, [predictor])


def deployment_resource(
    name: str, version: str | None, options: DeploymentOptions, predictors: list[dict[str, Any]]
) -> dict[str, Any]:
    """A SeldonDeployment named ``name`` (labelled with its version, if it has one)."""
    metadata: dict[str, Any] = {"name": name}
    if options.namespace:
        metadata["namespace"] = options.namespace
    metadata["labels"] = {"app.kubernetes.io/name": name}
    if version is not None:
        metadata["labels"]["app.kubernetes.io/version"] = version
    return {
        "apiVersion": API_VERSION,
        "kind": "SeldonDeployment",
        "metadata": metadata,
        "spec": {"protocol": "seldon", "predictors": predictors},
    }


def model_predictor(
    manifest: Manifest,
    model_dir: Path,
    options: DeploymentOptions,
    name: str = PREDICTOR,
    image: str | None = None,
) -> dict[str, Any]:
    """A predictor whose graph is the one model, served by one container."""
    container = node_container(manifest, model_dir, options, NODE, image)
    return routes_recorded(
        {
            "name": name,
            "replicas": options.replicas,
            "componentSpecs": [{"spec": pod_spec(container, options)}],
            "graph": graph_node(NODE, manifest),
        }
    )


def routes_recorded(predictor: dict[str, Any]) -> dict[str, Any]:
    """``predictor``, whose executor records routes (``ROUTING_INJECTION``) if its graph holds
    a ROUTER."""
    if any(unit.get("type") == "ROUTER" for unit in graph_units(predictor["graph"])):
        predictor["svcOrchSpec"] = {"env": [dict(ROUTING_INJECTION)]}
    return predictor


def graph_units(unit: dict[str, Any]) -> list[dict[str, Any]]:
    """A predictor's graph node and its descendants, depth first."""
    return [unit, *(each for child in unit.get("children", []) for each in graph_units(child))]


def graph_node(name: str, manifest: Manifest) -> dict[str, Any]:
    """The graph node a container serves: its Seldon type is the manifest's kind."""
    return {
        "name": name,
        "type": manifest.node_type,
        "endpoint": {"type": "REST"},
        "parameters": graph_parameters(manifest),
    }


def node_container(
    manifest: Manifest,
    model_dir: Path,
    options: DeploymentOptions,
    name: str = NODE,
    image: str | None = None,
) -> dict[str, Any]:
    """The container that serves one model directory: sized by workers, probed, drained."""
    budget = Budget.for_machine(
        cpus=options.workers, workers=options.workers, threads=options.threads
    )
    size = {"cpu": str(options.workers), "memory": f"{memory_mib(manifest, model_dir, options)}Mi"}
    server = options.server_settings
    env = {
        **budget.environment(),
        "MODELREPO_DRAIN_SECONDS": f"{server.drain_seconds:g}",
        "MODELREPO_FINISH_SECONDS": f"{server.finish_seconds:g}",
    }
    return {
        "name": name,
        "image": image or options.image_for(manifest),
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [
            {"name": port_name, "containerPort": port, "protocol": "TCP"}
            for port_name, port in PORTS.items()
        ],
        "resources": {"requests": dict(size), "limits": dict(size)},
        "startupProbe": _probe(LIVE_PATH, period=STARTUP_PERIOD, failures=STARTUP_FAILURES),
        "readinessProbe": _probe(READY_PATH, period=5, failures=2),
        "livenessProbe": _probe(LIVE_PATH, period=10, failures=3),
        "lifecycle": {"preStop": {"exec": {"command": list(PRE_STOP)}}},
    }


def pod_spec(container: dict[str, Any], options: DeploymentOptions) -> dict[str, Any]:
    """The pod of one container, its grace period covering the drain and the slowest request."""
    grace = options.server_settings.grace_seconds + EXIT_MARGIN_SECONDS
    pod: dict[str, Any] = {
        "terminationGracePeriodSeconds": math.ceil(grace),
        "containers": [container],
    }
    if options.signing_key_secret:
        mount_signing_key(pod, container, options.signing_key_secret)
    return pod


def mount_signing_key(pod: dict[str, Any], container: dict[str, Any], secret: str) -> None:
    """The Secret's ``public.pem`` read-only at ``KEY_DIR``, and the settings that make the
    server require a signature made with its private half."""
    pod["volumes"] = [
        {
            "name": KEY_VOLUME,
            "secret": {"secretName": secret, "items": [{"key": KEY_FILE, "path": KEY_FILE}]},
        }
    ]
    container["volumeMounts"] = [{"name": KEY_VOLUME, "mountPath": KEY_DIR, "readOnly": True}]
    container["env"] += [
        {"name": "MODELREPO_SIGNATURE_POLICY", "value": "require"},
        {"name": "MODELREPO_SIGNATURE_PUBLIC_KEY", "value": f"{KEY_DIR}/{KEY_FILE}"},
    ]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def memory_mib(manifest: Manifest, model_dir: Path, options: DeploymentOptions) -> int:
    """Memory for the container: the framework's base, and per worker its share plus the model."""
    base, per_worker = MEMORY_MIB[manifest.framework]
    artifact_bytes = sum(
        (Path(model_dir) / a.path).stat().st_size
        for a in manifest.artifacts
        if (Path(model_dir) / a.path).is_file()
    )
    total = base + options.workers * (per_worker + 2 * artifact_bytes / 2**20)
    return int(math.ceil(total / 64) * 64)


def graph_parameters(manifest: Manifest) -> list[dict[str, str]]:
    """The wrapper's settings as Seldon parameters, so a deployment can change them in place."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    return [
        {"name": "max_batch_rows", "type": "INT", "value": str(defaults["max_batch_rows"])},
        {"name": "verify_golden", "type": "BOOL", "value": str(defaults["verify_golden"]).lower()},
    ]


def to_yaml(resource: dict[str, Any]) -> str:
    return HEADER.format(file=DEPLOYMENT_FILE) + yaml.safe_dump(resource, sort_keys=False)


def deployment_problems(resource: Any) -> list[str]:
    """Errors against the CRD's schema, then what the CRD leaves to Seldon's operator (its Go
    enums, the admission webhook's rules), then what neither can say: every probe names a
    declared port, the container asks for one core per worker, and the grace period covers
    the drain."""
    validator = jsonschema.Draft7Validator(crd.json_schema())
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(resource), key=lambda e: list(e.absolute_path))
    ]
    if not problems:
        problems = operator_problems(resource)
    if problems:
        return problems
    for predictor in resource["spec"]["predictors"]:
        for spec in predictor.get("componentSpecs", []):
            for container in spec["spec"]["containers"]:
                problems += _container_problems(predictor["name"], container)
            problems += _grace_problems(predictor["name"], spec["spec"])
    return problems


def operator_problems(resource: dict[str, Any]) -> list[str]:
    """What the CRD's schema accepts and Seldon's operator refuses or misreads."""
    problems = []
    for field, expected in (("apiVersion", API_VERSION), ("kind", crd.KIND)):
        if resource.get(field) != expected:
            problems.append(f"{field}: {expected!r} was expected, got {resource.get(field)!r}")
    name = resource.get("metadata", {}).get("name", "")
    if not DNS_LABEL.fullmatch(name):
        problems.append(f"metadata.name: {name!r} is not a DNS label (lower case, digits, -)")
    for predictor in resource.get("spec", {}).get("predictors") or []:
        problems += _node_problems(f"predictor {predictor['name']}", predictor["graph"])
    return problems + [str(error) for error in webhook.field_errors(resource)]


def _node_problems(where: str, node: dict[str, Any]) -> list[str]:
    where = f"{where}, graph node {node['name']}"
    found = [
        (f"{where}: type", node.get("type"), NODE_TYPES),
        (f"{where}: endpoint.type", node.get("endpoint", {}).get("type"), ENDPOINT_TYPES),
        *((f"{where}: parameter {p['name']}", p["type"], PARAMETER_TYPES)
          for p in node.get("parameters", [])),
    ]  # fmt: skip
    problems = [
        f"{what}: {value!r} is not one of {list(allowed)}"
        for what, value, allowed in found
        if value is not None and value not in allowed
    ]
    for child in node.get("children", []):
        problems += _node_problems(where, child)
    return problems


def _grace_problems(predictor: str, pod: dict[str, Any]) -> list[str]:
    """The kubelet kills what outlives the grace period: it must cover the drain and the
    slowest request of every container that drains."""
    grace = pod.get("terminationGracePeriodSeconds", 30)
    problems = []
    for container in pod["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if "MODELREPO_DRAIN_SECONDS" not in env:
            continue
        needed = ServerSettings(
            drain_seconds=env["MODELREPO_DRAIN_SECONDS"],
            finish_seconds=env.get("MODELREPO_FINISH_SECONDS", DeploymentOptions.finish_seconds),
        ).grace_seconds
        if grace < needed:
            problems.append(
                f"predictor {predictor}, container {container['name']}: "
                f"terminationGracePeriodSeconds is {grace} but the drain and the slowest "
                f"request take up to {needed:g}s; requests would be cut"
            )
    return problems


def _container_problems(predictor: str, container: dict[str, Any]) -> list[str]:
    where = f"predictor {predictor}, container {container['name']}"
    problems = []
    ports = container.get("ports", [])
    names = [p["name"] for p in ports if "name" in p]
    numbers = [p["containerPort"] for p in ports]
    if len(set(names)) != len(names) or len(set(numbers)) != len(numbers):
        problems.append(f"{where}: port names and numbers must be unique, got {ports}")
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = container.get(kind, {}).get("httpGet", {}).get("port")
        if port is not None and port not in (names if isinstance(port, str) else numbers):
            problems.append(f"{where}: {kind} probes port {port!r}, which the container lacks")
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    workers = env.get("GUNICORN_WORKERS")
    for bound, size in container.get("resources", {}).items():
        if workers is not None and "cpu" in size and str(size["cpu"]) != workers:
            problems.append(
                f"{where}: resources.{bound}.cpu is {size['cpu']} but GUNICORN_WORKERS is "
                f"{workers}; give each worker one core"
            )
    return problems
