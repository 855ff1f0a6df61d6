"""A graph run locally: one microservice per node, and one REST port that walks the graph.

Each node's model directory is served by the real ``seldon-core-microservice`` under its
Seldon type, on free ports, with the environment Seldon's operator gives a node's container
(``PREDICTIVE_UNIT_ID`` is the node's name, which a router's feedback reads its route by).
The front answers Seldon's external API on one port, ``/api/v1.0/predictions`` and
``/api/v1.0/feedback``, by walking the graph as the executor does (``modelrepo.local.graph``).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from modelrepo.local.graph import (
    JSON,
    PUID_HEADER,
    Endpoint,
    GraphCallError,
    Message,
    Walk,
    failure,
    forwarded,
)
from modelrepo.local.process import Microservice, free_port
from modelrepo.local.runner import Runner
from modelrepo.modeldir.deployment import PREDICTOR, DeploymentOptions
from modelrepo.modeldir.graph import Graph, Node
from wrappers.server.bind import address

logger = logging.getLogger(__name__)

PREDICT_PATHS = ("/api/v1.0/predictions", "/api/v0.1/predictions")
FEEDBACK_PATHS = ("/api/v1.0/feedback", "/api/v0.1/feedback")
HEALTH_PATHS = ("/api/v1.0/health/status", "/health/status")


def node_service(run: GraphRun, node: Node) -> Microservice:
    """The microservice of one node, with the environment Seldon's operator sets for it."""
    graph = run.graph
    manifest = graph.manifest(node)
    env = {
        "PREDICTIVE_UNIT_ID": node.name,
        "PREDICTIVE_UNIT_IMAGE": DeploymentOptions().image_for(manifest),
        "PREDICTOR_ID": PREDICTOR,
        "SELDON_DEPLOYMENT_ID": graph.name,
        "GRPC_WORKERS": "0",  # the executor calls the nodes over REST
    }
    return Microservice(
        graph.model_dir(node),
        service_type=manifest.microservice_type,
        host=run.host,
        workers=run.workers,
        threads=run.threads,
        extra_args=list(run.extra_args),
        env=env,
        log_path=Path(run.log_dir) / f"{node.name}.log" if run.log_dir else None,
    )


def endpoint(graph: Graph, node: Node, services: dict[str, Microservice]) -> Endpoint:
    """The node tree with each node's Seldon type and address."""
    children = tuple(endpoint(graph, c, services) for c in node.children)
    return Endpoint(node.name, graph.service_type(node), services[node.name].url, children)


@dataclass
class GraphRun(Runner):
    """Every node of ``graph`` served, and the graph on ``http_port``; a context manager."""

    graph: Graph
    host: str = "127.0.0.1"
    http_port: int = field(default_factory=free_port)
    log_dir: Path | None = None
    #: per node
    workers: int = 1
    threads: int = 1
    extra_args: list[str] = field(default_factory=list)
    #: ``meta.routing`` in every answer, as with the executor's SELDON_ENABLE_ROUTING_INJECTION
    inject_routing: bool = True
    timeout: float = 60.0
    services: dict[str, Microservice] = field(default_factory=dict)
    root: Endpoint | None = None
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{address(self.host, self.http_port)}"

    def plan(self) -> dict[str, Microservice]:
        """Each node's microservice, by node name, not yet started."""
        if not self.services:
            self.services = {n.name: node_service(self, n) for n in self.graph.nodes()}
            self.root = endpoint(self.graph, self.graph.root, self.services)
        return self.services

    def start(self) -> GraphRun:
        if self.log_dir:
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        for service in self.plan().values():
            service.start()
        self.server = ThreadingHTTPServer((self.host, self.http_port), front(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def ready(self) -> bool:
        return all(service.ready() for service in self.services.values())

    def exited(self) -> str | None:
        for name, service in self.services.items():
            gone = service.exited()
            if gone:
                return f"(node {name}) {gone}"
        return None

    def describe(self) -> str:
        return f"the graph {self.graph.name}"

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{s.logs()}" for n, s in self.services.items() if s.logs())

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for service in self.services.values():
            service.stop()

    def walk(self, headers: dict[str, str]) -> Walk:
        return Walk(headers, inject_routing=self.inject_routing, timeout=self.timeout)


def parsed(body: bytes) -> Message:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise failure(f"the request is not JSON: {exc}", 400) from exc


def front(run: GraphRun) -> type[BaseHTTPRequestHandler]:
    """The request handler of the graph's REST port."""

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

        def do_POST(self) -> None:
            headers = forwarded(dict(self.headers.items()))
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read, kept alive
            path = self.path.split("?")[0]
            if path not in PREDICT_PATHS + FEEDBACK_PATHS:
                return self._send(HTTPStatus.NOT_FOUND, b"", headers, "text/plain")
            walk = run.walk(headers)
            call = walk.predict if path in PREDICT_PATHS else walk.feedback
            try:
                answer = call(run.root, parsed(raw))  # type: ignore[arg-type]
            except GraphCallError as exc:
                return self._send(exc.status, exc.body, headers, exc.content_type)
            except Exception as exc:  # answered, as the executor answers what it did not expect
                logger.exception("the graph %s failed", run.graph.name)
                error = failure(f"{type(exc).__name__}: {exc}")
                return self._send(error.status, error.body, headers, error.content_type)
            return self._send(HTTPStatus.OK, json.dumps(answer).encode(), headers, JSON)

        def do_GET(self) -> None:
            headers = forwarded(dict(self.headers.items()))
            if self.path.split("?")[0] not in HEALTH_PATHS:
                return self._send(HTTPStatus.NOT_FOUND, b"", headers, "text/plain")
            ok = run.ready()
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            return self._send(status, json.dumps({"ready": ok}).encode(), headers, JSON)

        def _send(self, status: int, body: bytes, headers: dict[str, str], kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header(PUID_HEADER, headers[PUID_HEADER])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug(format, *args)

    return Front
