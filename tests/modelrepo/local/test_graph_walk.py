"""The executor's rules that need no node: routes read, feedback routes, headers, routing."""

from __future__ import annotations

import uuid

import pytest

from modelrepo.local.graph import (
    PUID_HEADER,
    Endpoint,
    GraphCallError,
    Walk,
    child,
    feedback_route,
    forwarded,
    route_of,
    with_routing,
)


@pytest.mark.parametrize(
    ("answer", "route"),
    [
        ({"data": {"ndarray": [[1]]}}, 1),
        ({"data": {"ndarray": [2, 0]}}, 2),
        ({"data": {"tensor": {"shape": [1, 1], "values": [-2.0]}}}, -2),
        ({"data": {"tftensor": {"dtype": "DT_INT32", "intVal": [3]}}}, 3),
        ({"strData": "anything"}, -1),  # a message without data routes to every child
        ([0, 1], 0),  # a bare JSON list of routes: the first
        ({"data": {"ndarray": [[1.9]]}}, 1),  # a number is truncated as Go's int() does
    ],
)
def test_a_route_is_the_first_value_the_router_answers(answer, route):
    assert route_of(answer) == route


@pytest.mark.parametrize(
    "answer", [{"data": {"ndarray": []}}, {"data": {"ndarray": [["a"]]}}, "1", [], None]
)
def test_a_router_that_answers_no_route_fails(answer):
    with pytest.raises(GraphCallError, match="holds no route") as failed:
        route_of(answer)
    assert failed.value.status == 500


def test_feedback_reads_each_nodes_route_from_the_rated_answer():
    feedback = {"response": {"meta": {"routing": {"router": 1, "model": -1}}}, "reward": 1}

    assert feedback_route(feedback, "router") == 1
    assert feedback_route(feedback, "elsewhere") == -1
    assert feedback_route({"reward": 1}, "router") == -1


def test_the_puid_header_is_kept_or_generated_and_the_connections_headers_dropped():
    kept = forwarded({"seldon-puid": "p-1", "Host": "x", "Content-Length": "3", "X-Trace": "t"})
    made = forwarded({"Content-Type": "application/json"})

    assert kept == {PUID_HEADER: "p-1", "X-Trace": "t"}
    assert set(made) == {PUID_HEADER} and uuid.UUID(made[PUID_HEADER])


def test_routing_is_written_only_into_an_answer_with_meta():
    assert with_routing({"data": {}, "meta": {"tags": {"a": 1}}}, {"r": 0}) == {
        "data": {},
        "meta": {"tags": {"a": 1}, "routing": {"r": 0}},
    }
    assert with_routing({"data": {}}, {"r": 0}) == {"data": {}}


def test_a_route_to_a_missing_child_is_the_executors_failure():
    router = Endpoint("router", "ROUTER", "http://127.0.0.1:1", (Endpoint("a", "MODEL", ""),))

    assert child(router, 0).name == "a"
    with pytest.raises(GraphCallError, match="router routed to 1; it has 1 children"):
        child(router, 1)


def test_a_node_that_takes_no_call_passes_the_message_on():
    leaf = Endpoint("combiner", "COMBINER", "http://127.0.0.1:1")
    message = {"data": {"ndarray": [[1]]}, "meta": {}}

    assert Walk({}).predict(leaf, message) == {**message, "meta": {"routing": {}}}
    assert Walk({}, inject_routing=False).predict(leaf, message) == message


def test_a_node_that_cannot_be_reached_is_the_executors_failure():
    unreachable = Endpoint("model", "MODEL", "http://127.0.0.1:1")

    with pytest.raises(GraphCallError) as failed:
        Walk({}, timeout=5).predict(unreachable, {"data": {"ndarray": [[1]]}})
    assert failed.value.status == 500
    assert b"FAILURE" in failed.value.body
