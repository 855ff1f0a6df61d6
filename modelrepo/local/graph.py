"""Seldon's executor, mirrored: how one request walks an inference graph of microservices.

In a cluster, Seldon Core 1.18.2's executor runs the graph (``executor/predictor/
predictor_process.go``, REST client ``executor/api/rest/client.go``). This does the same over
REST, for a local run and for tests:

* a node first transforms its input: a ``MODEL`` is called on ``/predict``, a ``TRANSFORMER``
  on ``/transform-input``; other types pass the message on;
* then its children: a ``ROUTER`` is asked ``/route`` (-1: every child, concurrently; -2: none,
  the message goes back as it is; N: child N), any other node sends to every child;
* then a ``COMBINER`` gets its children's answers on ``/aggregate`` as one JSON list (a
  SeldonMessageList); any other node keeps its first child's answer;
* then an ``OUTPUT_TRANSFORMER`` is called on ``/transform-output``.

The executor forwards the payloads without reading them: tags, metrics, ``puid`` and
``requestPath`` are carried and merged by the microservices themselves (Seldon's Python wrapper
copies a request's meta into its answer and merges a SeldonMessageList's). What the executor
adds is the ``Seldon-Puid`` header, kept or generated and sent to every node, and, with
``SELDON_ENABLE_ROUTING_INJECTION``, each answer's ``meta.routing``: the route taken at every
node so far. Feedback goes down the same tree, each parent reading its route from the feedback's
``response.meta.routing``; ``MODEL`` and ``ROUTER`` nodes are called on ``/send-feedback``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import requests

PUID_HEADER = "Seldon-Puid"
JSON = "application/json"
ROUTE_ALL = -1
ROUTE_NONE = -2
#: the call that transforms a node's input, by Seldon type
INPUT_PATH = {"MODEL": "/predict", "TRANSFORMER": "/transform-input"}
#: the types Seldon's executor sends feedback to
FEEDBACK_TYPES = ("MODEL", "ROUTER")
#: request headers not passed on to the nodes: the connection's own, and the body's type
NOT_FORWARDED = {
    "host",
    "content-length",
    "content-type",
    "connection",
    "keep-alive",
    "transfer-encoding",
}

Message = Any  # a SeldonMessage, a SeldonMessageList or a Feedback, as JSON


@dataclass(frozen=True)
class Endpoint:
    """A graph node where it answers: its name, Seldon type, REST address and children."""

    name: str
    service_type: str
    url: str
    children: tuple[Endpoint, ...] = ()


class GraphCallError(Exception):
    """A call the walk could not complete, answered as Seldon's executor answers it: a node's
    own status and body, or 500 with the executor's failure message."""

    def __init__(self, status: int, body: bytes, content_type: str = JSON) -> None:
        super().__init__(f"{status}: {body[:500].decode(errors='replace')}")
        self.status = status
        self.body = body
        self.content_type = content_type


def failure(info: str, status: int = 500) -> GraphCallError:
    """The executor's own error: a SeldonMessage with a FAILURE status."""
    body = {"status": {"code": status, "info": info, "status": "FAILURE"}}
    return GraphCallError(status, json.dumps(body).encode())


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's headers as the executor passes them to every node, with the puid kept or
    generated."""
    kept = {k: v for k, v in headers.items() if k.lower() not in NOT_FORWARDED}
    puid = next((v for k, v in kept.items() if k.lower() == PUID_HEADER.lower() and v), None)
    kept = {k: v for k, v in kept.items() if k.lower() != PUID_HEADER.lower()}
    return {**kept, PUID_HEADER: puid or str(uuid.uuid4())}


def route_of(answer: Message) -> int:
    """The route a router answered: the first value of its SeldonMessage's ``ndarray``,
    ``tensor`` or ``tftensor`` (-1 for other payloads), or of a bare JSON list."""
    try:
        return _first_route(answer)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise failure(f"the router's answer holds no route: {answer}") from exc


def _first_route(answer: Message) -> int:
    if isinstance(answer, list):
        values = answer
    else:
        data = answer.get("data") or {}
        if "ndarray" in data:
            values = data["ndarray"]
        elif "tensor" in data:
            values = data["tensor"].get("values", [])
        elif "tftensor" in data:
            values = data["tftensor"].get("intVal", [])
        else:
            return ROUTE_ALL
    first = values[0][0] if isinstance(values[0], list) else values[0]
    return int(first)


def feedback_route(feedback: Message, name: str) -> int:
    """The route node ``name`` took for the answer being rated; -1 when it is not recorded."""
    response = feedback.get("response") if isinstance(feedback, dict) else None
    routing = ((response or {}).get("meta") or {}).get("routing") or {}
    return int(routing.get(name, ROUTE_ALL))


def with_routing(message: Message, routing: Mapping[str, int]) -> Message:
    """The answer with ``meta.routing`` replaced by the routes taken, when it has a ``meta``."""
    if not isinstance(message, dict) or not isinstance(message.get("meta"), dict):
        return message
    return {**message, "meta": {**message["meta"], "routing": dict(routing)}}


def child(node: Endpoint, route: int) -> Endpoint:
    if not 0 <= route < len(node.children):
        raise failure(f"{node.name} routed to {route}; it has {len(node.children)} children")
    return node.children[route]


def post(
    node: Endpoint, path: str, body: Message, headers: Mapping[str, str], timeout: float
) -> Message:
    """One call to a node; a refusal keeps the node's status and body."""
    url = node.url.rstrip("/") + path
    try:
        answer = requests.post(
            url,
            data=json.dumps(body),
            headers={**headers, "Content-Type": JSON},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise failure(f"calling {url}: {exc}") from exc
    if answer.status_code != 200:
        content_type = answer.headers.get("Content-Type", JSON)
        raise GraphCallError(answer.status_code, answer.content, content_type)
    try:
        return answer.json()
    except ValueError as exc:
        raise failure(f"{url} did not answer JSON") from exc


@dataclass
class Walk:
    """One request through the graph: the headers sent to every node and the routes taken."""

    headers: Mapping[str, str]
    inject_routing: bool = True
    timeout: float = 60.0
    routing: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, node: Endpoint, message: Message) -> Message:
        message = self._transform_input(node, message)
        message = self._children(node, message)
        message = self._transform_output(node, message)
        if self.inject_routing:
            with self._lock:
                return with_routing(message, self.routing)
        return message

    def feedback(self, node: Endpoint, message: Message) -> Message:
        """Children first, then the node; answers the node's reply, or the feedback itself
        for a type that takes none."""
        self._feedback_children(node, message)
        if node.service_type in FEEDBACK_TYPES:
            return self._call(node, "/send-feedback", message)
        return message

    def _call(self, node: Endpoint, path: str, body: Message) -> Message:
        return post(node, path, body, self.headers, self.timeout)

    def _record(self, node: Endpoint, route: int) -> None:
        with self._lock:
            self.routing[node.name] = route

    def _transform_input(self, node: Endpoint, message: Message) -> Message:
        path = INPUT_PATH.get(node.service_type)
        if path is None:
            return message
        self._record(node, ROUTE_ALL)
        return self._call(node, path, message)

    def _children(self, node: Endpoint, message: Message) -> Message:
        if not node.children:
            return message
        route = self._route(node, message)
        if route == ROUTE_NONE:
            self._record(node, ROUTE_NONE)
            return message
        if route == ROUTE_ALL:
            answers = each(self.predict, node.children, message)
        else:
            answers = [self.predict(child(node, route), message)]
        self._record(node, route)
        return self._aggregate(node, answers)

    def _route(self, node: Endpoint, message: Message) -> int:
        if node.service_type != "ROUTER":
            return ROUTE_ALL
        return route_of(self._call(node, "/route", message))

    def _aggregate(self, node: Endpoint, answers: list[Message]) -> Message:
        if node.service_type != "COMBINER":
            return answers[0]
        self._record(node, ROUTE_ALL)
        return self._call(node, "/aggregate", answers)

    def _transform_output(self, node: Endpoint, message: Message) -> Message:
        if node.service_type != "OUTPUT_TRANSFORMER":
            return message
        return self._call(node, "/transform-output", message)

    def _feedback_children(self, node: Endpoint, message: Message) -> None:
        if not node.children:
            return
        route = feedback_route(message, node.name)
        if route == ROUTE_ALL:
            each(self.feedback, node.children, message)
        elif route != ROUTE_NONE:  # the executor would index child -2; no child answered
            self.feedback(child(node, route), message)


def each(
    call: Callable[[Endpoint, Message], Message], nodes: Sequence[Endpoint], message: Message
) -> list[Message]:
    """``call`` on every node at once, as the executor's goroutines; the first failure in
    the children's order is raised once all have answered."""
    if len(nodes) == 1:
        return [call(nodes[0], message)]
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        futures = [pool.submit(call, node, message) for node in nodes]
        wait(futures)
    return [future.result() for future in futures]
