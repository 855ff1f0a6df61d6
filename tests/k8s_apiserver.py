"""A real Kubernetes API server for custom resources: etcd and ``apiextensions-apiserver``.

``make k8s-apiserver`` builds the server from Debian's Kubernetes sources (tools/k8s/); etcd is
Debian's ``etcd-server``. Both listen on loopback at free ports; clients authenticate with a
certificate of the ``system:masters`` group, which the server's authorizer always allows. The
server has no core API (no namespaces, pods or ``/api``), so the admission plugins that would
look namespaces up are off; validation against a CRD's schema is the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from modelrepo.local.process import free_port
from modelrepo.local.runner import Runner, wait_until

ROOT = Path(__file__).resolve().parents[1]
APISERVER = ROOT / ".k8s" / "bin" / "apiextensions-apiserver"
ADMISSION_OFF = (
    "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,"
    "ValidatingAdmissionPolicy,MutatingAdmissionPolicy"
)


def missing() -> list[str]:
    """What ``make k8s-apiserver`` has not installed yet."""
    found = {"apiextensions-apiserver": APISERVER.is_file(), "etcd": shutil.which("etcd")}
    found["openssl"] = shutil.which("openssl")
    return [name for name, there in found.items() if not there]


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def certificates(directory: Path) -> dict[str, Path]:
    """A CA, the server's certificate for 127.0.0.1, and a client certificate of a member of
    ``system:masters``, all signed by the CA."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=directory)  # fmt: skip
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject, extra in (
        ("server", "/CN=127.0.0.1", ["-extfile", "server.ext"]),
        ("client", "/O=system:masters/CN=tests", []),
    ):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-out", f"{name}.crt", *extra,
                 cwd=directory)  # fmt: skip
    return {
        name: directory / name
        for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
    }


@dataclass
class ApiServer(Runner):
    """etcd and apiextensions-apiserver in ``directory``, stopped on exit."""

    directory: Path
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        files = certificates(self.directory)
        ca, cert, key = files["ca.crt"], files["client.crt"], files["client.key"]
        etcd_port, peer_port = free_port(), free_port()
        self._spawn(
            "etcd",
            ["etcd", "--data-dir", self.directory / "etcd", "--name", "test",
             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-cluster", f"test=http://127.0.0.1:{peer_port}"],
        )  # fmt: skip
        # delegated authentication and authorization want a "core" server; they are pointed at
        # this one, and never asked: client certificates are checked here, and system:masters
        # is always allowed
        kubeconfig = self.write_kubeconfig(ca, cert, key)
        self._spawn(
            "apiserver",
            [APISERVER, "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
             "--bind-address", "127.0.0.1", "--secure-port", str(self.port),
             "--tls-cert-file", files["server.crt"], "--tls-private-key-file", files["server.key"],
             "--client-ca-file", ca,
             "--authentication-skip-lookup", "--authentication-kubeconfig", kubeconfig,
             "--authorization-kubeconfig", kubeconfig, "--kubeconfig", kubeconfig,
             "--disable-admission-plugins", ADMISSION_OFF, "--enable-priority-and-fairness=false"],
        )  # fmt: skip
        self.session.cert = (str(cert), str(key))
        self.session.verify = str(ca)
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify
        return self

    def ready(self) -> bool:
        # /readyz waits for informers of the core API, which this server lacks
        crds = self.url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        return self.session.get(crds, timeout=2).ok

    def exited(self) -> str | None:
        gone = [p.args[0] for p in self.processes if p.poll() is not None]
        return f"exited: {gone}" if gone else None

    def describe(self) -> str:
        return "etcd and the API server"

    def write_kubeconfig(self, ca: Path, cert: Path, key: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "self", "cluster": {"server": self.url,
                                                      "certificate-authority": str(ca)}}],
            "users": [{"name": "tests", "user": {"client-certificate": str(cert),
                                                 "client-key": str(key)}}],
            "contexts": [{"name": "self", "context": {"cluster": "self", "user": "tests"}}],
            "current-context": "self",
        }  # fmt: skip
        path = self.directory / "kubeconfig.json"
        path.write_text(json.dumps(config))
        return path

    def _spawn(self, name: str, command: list[Any]) -> None:
        log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115
        self.processes.append(
            subprocess.Popen(
                [str(c) for c in command], stdout=log, stderr=subprocess.STDOUT, cwd=self.directory
            )
        )

    def logs(self) -> str:
        return "".join(
            f"\n--- {log.name}\n" + log.read_text(errors="replace")[-2000:]
            for log in sorted(self.directory.glob("*.log"))
        )

    def install_crd(self, crd: dict[str, Any], timeout: float = 60.0) -> None:
        """Creates the CRD and waits until its resources are served."""
        created = self.session.post(
            self.url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
        )
        assert created.status_code == 201, created.text
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        served = crd["spec"]["versions"][0]["name"]
        collection = f"{self.url}/apis/{group}/{served}/namespaces/default/{plural}"

        def served() -> bool:
            return self.session.get(collection, timeout=2).status_code == 200

        wait_until(served, self.exited, timeout, lambda: f"{plural} of the CRD", self.logs)

    def collection(self, api_version: str, plural: str, namespace: str) -> str:
        return f"{self.url}/apis/{api_version}/namespaces/{namespace}/{plural}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def required() -> bool:
    """Under CI a missing prerequisite is a failure: ``make test`` installs them."""
    return os.environ.get("CI", "").lower() == "true"
