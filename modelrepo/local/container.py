"""Runs a model's serving image with podman and checks it answers as the model does in-process.

The container shares the host's network (no bridge, no private addresses) and its servers bind
127.0.0.1 at free ports, through the variables ``s2i/bin/run`` reads. ``python -m
modelrepo.local.container MODEL_DIR IMAGE`` (``make image-check``) starts it, waits for
``/health/status``, compares its REST answers for ``request.json`` and the golden rows with
``predict_local`` and stops it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from modelrepo.local.process import free_port
from modelrepo.local.runner import Runner
from modelrepo.modeldir.client import predict_local, request_body
from wrappers.core.manifest import Manifest

LOOPBACK = "127.0.0.1"


@dataclass
class ModelContainer(Runner):
    """One container of ``image``, on the host's network at loopback ports."""

    ready_timeout = 180.0

    image: str
    name: str = field(default_factory=lambda: f"modelrepo-{uuid.uuid4().hex[:10]}")
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def ports(self) -> dict[str, int]:
        """The ports by the names the SeldonDeployment gives them."""
        return {"http": self.http_port, "grpc": self.grpc_port, "metrics": self.metrics_port}

    def environment(self) -> dict[str, str]:
        return serving_environment(self.ports)

    def start(self) -> ModelContainer:
        env = [f"--env={k}={v}" for k, v in self.environment().items()]
        podman("run", "--detach", "--name", self.name, "--network=host", *env, self.image)
        return self

    def ready(self) -> bool:
        return requests.get(self.url + "/health/status", timeout=2).status_code == 200

    def exited(self) -> str | None:
        return None if self.running() else "exited"

    def describe(self) -> str:
        return f"container {self.name}"

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        shown = podman("logs", self.name, check=False)
        return (shown.stdout + shown.stderr)[-4000:]

    def stop(self) -> None:
        """SIGTERM (the server drains first), then removal."""
        podman("stop", "--time", "60", self.name, check=False)
        podman("rm", "--force", self.name, check=False)


def serving_environment(ports: dict[str, int], host: str = LOOPBACK) -> dict[str, str]:
    """The variables that make ``s2i/bin/run`` bind ``host`` at ``ports`` (by port name)."""
    env = {"MODELREPO_BIND_HOST": host}
    env.update({f"PREDICTIVE_UNIT_{name.upper()}_SERVICE_PORT": str(port)
                for name, port in ports.items()})  # fmt: skip
    return env


def podman(
    *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, text=True, check=check
    )


def requests_for(model_dir: Path) -> list[dict[str, Any]]:
    """``request.json``, and each golden pair's input when the model takes one matrix."""
    model_dir = Path(model_dir)
    bodies = [json.loads((model_dir / "request.json").read_text())]
    manifest = Manifest.read(model_dir)
    if len(manifest.inputs) == 1 and manifest.inputs[0].kind == "tensor":
        bodies += [request_body(next(iter(pair.input.values()))) for pair in manifest.golden]
    return bodies


def mismatches(container: ModelContainer, model_dir: Path) -> list[str]:
    """The requests whose REST answer from the container differs from the in-process one."""
    found = []
    for body in requests_for(model_dir):
        served = requests.post(container.url + "/api/v1.0/predictions", json=body, timeout=30)
        expected = predict_local(model_dir, body)
        if served.status_code != 200 or served.json()["data"] != expected["data"]:
            found.append(f"{body}: container {served.status_code} {served.text[:300]}, "
                         f"in-process {expected['data']}")  # fmt: skip
    return found


def report(runner: ModelContainer, model_dir: Path) -> int:
    """Runs ``runner``, prints how its answers compare with the in-process model's: exit code."""
    with runner:
        found = mismatches(runner, model_dir)
    for line in found:
        print(line, file=sys.stderr)
    print(f"{runner.image}: {'differs' if found else 'answers as the model does in-process'}")
    return 1 if found else 0


def main(argv: list[str]) -> int:
    return report(ModelContainer(argv[1]), Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
