"""Hostile shapes and values over all four routes, against the real server of each committed model.

Seldon REST, Seldon gRPC (``Model/Predict``), V2 REST and V2 gRPC (``ModelInfer``) each get
shapes that would make numpy allocate or fail (huge, zero-sized with a huge dimension, rank 40,
rank 100,000), integers beyond their dtype, inputs with a 2 MB name and a table request without
columns. Every one must be refused as the client's fault (4xx, INVALID_ARGUMENT); a 5xx,
UNKNOWN or INTERNAL fails the test, and so does a refusal whose message outgrows its bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import requests
from conftest import COMMITTED_MODELS, MODELS_DIR
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from modelrepo.local.process import Microservice
from wrappers import Manifest
from wrappers.contract import max_elements
from wrappers.errors import MESSAGE_CHARS
from wrappers.limits import MAX_RANK
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
from wrappers.protocols.v2.dataplane import column_datatype
from wrappers.protocols.v2.datatypes import CONTENTS_FIELD, OF_CONTRACT
from wrappers.settings import Settings

pytestmark = pytest.mark.e2e
PREDICT = "/api/v1.0/predictions"
BIG_NAME = "n" * 2_000_000
#: gRPC status codes that say the client is at fault
REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
}


@dataclass
class Outcome:
    """One request's answer: ``ok`` (2xx, OK), ``refused`` (4xx, a client gRPC code) or
    ``error`` (5xx, UNKNOWN, INTERNAL, anything else)."""

    kind: str
    code: object
    message: str


@dataclass
class Case:
    route: str
    name: str
    send: Callable[[], Outcome]
    #: a piece of the refusal's message
    fragment: str = ""


@pytest.fixture(scope="module", params=COMMITTED_MODELS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory
) -> Iterator[tuple[Microservice, Manifest]]:
    name = request.param
    log = tmp_path_factory.mktemp("logs") / f"{name}.log"
    with Microservice(MODELS_DIR / name, log_path=log) as service:
        yield service, Manifest.read(MODELS_DIR / name)


# ---- the four routes ----------------------------------------------------------------------------


def http_outcome(answer: requests.Response) -> Outcome:
    kind = "ok" if answer.ok else "refused" if answer.status_code < 500 else "error"
    return Outcome(kind, answer.status_code, answer.text)


def grpc_outcome(call: Callable[[], Any]) -> Outcome:
    try:
        call()
    except grpc.RpcError as error:
        kind = "refused" if error.code() in REFUSED else "error"
        return Outcome(kind, error.code(), error.details() or "")
    return Outcome("ok", grpc.StatusCode.OK, "")


def seldon_rest(server: Microservice, message: dict[str, Any]) -> Callable[[], Outcome]:
    return lambda: http_outcome(requests.post(server.url + PREDICT, json=message, timeout=60))


def seldon_grpc(server: Microservice, message: Any) -> Callable[[], Outcome]:
    def send() -> Outcome:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_pb2_grpc.ModelStub(channel)
            return grpc_outcome(lambda: stub.Predict(message, timeout=60))

    return send


def v2_rest(server: Microservice, model: str, body: dict[str, Any]) -> Callable[[], Outcome]:
    url = f"{server.url}/v2/models/{model}/infer"
    return lambda: http_outcome(requests.post(url, json=body, timeout=60))


def v2_grpc(server: Microservice, request: pb.ModelInferRequest) -> Callable[[], Outcome]:
    def send() -> Outcome:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            return grpc_outcome(lambda: stub.ModelInfer(request, timeout=60))

    return send


# ---- the hostile requests -----------------------------------------------------------------------


@dataclass
class Target:
    """The input a hostile tensor is sent as: its name, V2 datatype and one valid element."""

    name: str
    datatype: str
    element: Any


def target(manifest: Manifest) -> Target:
    spec = manifest.inputs[0]
    if spec.kind == "table":
        column = spec.columns[0]
        return Target(column.name, column_datatype(column), 30)
    if spec.kind == "text":
        return Target(spec.name, "BYTES", "a")
    datatype = OF_CONTRACT[spec.dtype]
    element = {"BYTES": "a", "BOOL": True}.get(datatype, 1 if datatype[0] in "IU" else 0.5)
    return Target(spec.name, datatype, element)


#: (label, shape, data, fragment of the refusal); shapes a JSON body can carry
SHAPES: list[tuple[str, list[int], int, str]] = [
    ("zero rows of 2**64", [0, 2**64], 0, "over the limit"),
    ("zero rows of 2**62 x 2**62", [0, 2**62, 2**62], 0, "over the limit"),
    ("rank 40 of ones", [1] * 40, 1, f"rank 40 is over the limit of {MAX_RANK}"),
    ("rank 100000 of ones", [1] * 100_000, 1, f"rank 100000 is over the limit of {MAX_RANK}"),
    ("a negative dimension", [-1, 1], 1, "non-negative"),
    # over max_batch_rows x the widest row of any model here (a 3x224x224 image: 1.5e9)
    ("over the element limit", [2**40, 1], 0, "over the limit"),
]


def v2_body(tensors: list[dict[str, Any]], **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": tensors}
    if parameters:
        body["parameters"] = parameters
    return body


def v2_cases(server: Microservice, manifest: Manifest) -> list[Case]:
    at = target(manifest)
    model = manifest.name
    cases = []
    for label, shape, count, fragment in SHAPES:
        tensor = {"name": at.name, "datatype": at.datatype, "shape": shape}
        body = v2_body([{**tensor, "data": [at.element] * count}])
        cases.append(Case("V2 REST", label, v2_rest(server, model, body), fragment))
        if max(shape) < 2**63:  # a gRPC shape is int64
            request = pb.ModelInferRequest(model_name=model)
            given = request.inputs.add(name=at.name, datatype=at.datatype, shape=shape)
            _fill(given, at.datatype, [at.element] * count)
            cases.append(Case("V2 gRPC", label, v2_grpc(server, request), fragment))
    for datatype, value, fragment in (
        ("INT8", 300, "INT8 data holds integers in [-128, 127]"),
        ("UINT8", -1, "UINT8 data holds integers in [0, 255]"),
        ("INT64", 2**63, "INT64 data holds integers"),
        ("UINT64", 2**64, "UINT64 data holds integers"),
    ):
        body = v2_body([{"name": at.name, "datatype": datatype, "shape": [1, 1], "data": [value]}])
        cases.append(Case("V2 REST", f"{datatype} {value}", v2_rest(server, model, body), fragment))
    request = pb.ModelInferRequest(model_name=model)
    given = request.inputs.add(name=at.name, datatype="INT8", shape=[1, 1])
    given.contents.int_contents.append(300)
    cases.append(Case("V2 gRPC", "INT8 300", v2_grpc(server, request), "INT8 data holds integers"))
    # an unknown datatype, so that every model refuses it, quoting the name
    label, fragment = "2 MB input name", "datatype 'NOPE' is not one of"
    unknown = v2_body([{**_one(at), "name": BIG_NAME, "datatype": "NOPE"}])
    cases.append(Case("V2 REST", label, v2_rest(server, model, unknown), fragment))
    request = pb.ModelInferRequest(model_name=model)
    given = request.inputs.add(name=BIG_NAME, datatype="NOPE", shape=[1, 1])
    _fill(given, at.datatype, [at.element])
    cases.append(Case("V2 gRPC", label, v2_grpc(server, request), fragment))
    request = pb.ModelInferRequest(model_name=model)
    request.parameters["content_type"].string_param = "pd"
    cases.append(Case("V2 gRPC", "pd without inputs", v2_grpc(server, request), "no inputs"))
    return cases


def _one(at: Target) -> dict[str, Any]:
    return {"name": at.name, "datatype": at.datatype, "shape": [1, 1], "data": [at.element]}


def _fill(given: Any, datatype: str, elements: list[Any]) -> None:
    if datatype == "BYTES":
        elements = [str(e).encode() for e in elements]
    getattr(given.contents, CONTENTS_FIELD[datatype]).extend(elements)


def seldon_cases(server: Microservice, manifest: Manifest) -> list[Case]:
    limit = max_elements(manifest.inputs, Settings().max_batch_rows)
    cases = []
    for label, shape, count, fragment in SHAPES:
        message = {"data": {"tensor": {"shape": shape, "values": [1.0] * count}}}
        cases.append(Case("Seldon REST", label, seldon_rest(server, message), fragment))
        if max(shape) < 2**31:  # a gRPC Seldon tensor's shape is int32
            proto = json_to_seldon_message(message)
            cases.append(Case("Seldon gRPC", label, seldon_grpc(server, proto), fragment))
    tftensor = {
        "dtype": "DT_FLOAT",
        "tensorShape": {"dim": [{"size": str(limit + 1)}, {"size": "1"}]},
        "floatVal": [1.0],
    }
    for kind, send in (("REST", seldon_rest), ("gRPC", seldon_grpc)):
        message = {"data": {"tftensor": tftensor}}
        sent = message if kind == "REST" else json_to_seldon_message(message)
        cases.append(
            Case(f"Seldon {kind}", "tftensor filled from one value", send(server, sent), "limit")
        )
        names = {"data": {"names": [BIG_NAME], "ndarray": [[1.0]]}}
        sent = names if kind == "REST" else json_to_seldon_message(names)
        cases.append(Case(f"Seldon {kind}", "2 MB column name", send(server, sent)))
    return cases


def loan_cases(server: Microservice, manifest: Manifest) -> list[Case]:
    """The silently wrong answers: an age beyond int64 was cast, wrapping, to int64."""
    if manifest.name != "loan-pipeline":
        return []
    record = {"income": 1000.0, "city": "Oslo", "employment": "employed", "owns_home": True}
    columns = {"income": ("FP64", 1000.0), "city": ("BYTES", "Oslo")}
    columns |= {"employment": ("BYTES", "employed"), "owns_home": ("BOOL", True)}
    fragment = "an int column holds integers in"
    cases = []
    for label, datatype, age in (
        ("UINT64 age 2**64 - 1", "UINT64", 2**64 - 1),
        ("age 1e30", "FP64", 1e30),
        ("age -2**64", "FP64", -(2.0**64)),
    ):
        tensors = [{"name": "age", "datatype": datatype, "shape": [1], "data": [age]}]
        tensors += [
            {"name": n, "datatype": d, "shape": [1], "data": [v]} for n, (d, v) in columns.items()
        ]
        body = v2_body(tensors, content_type="pd")
        cases.append(Case("V2 REST", label, v2_rest(server, manifest.name, body), fragment))
        request = pb.ModelInferRequest(model_name=manifest.name)
        request.parameters["content_type"].string_param = "pd"
        for tensor in tensors:
            given = request.inputs.add(
                name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
            )
            _fill(given, tensor["datatype"], tensor["data"])
        cases.append(Case("V2 gRPC", label, v2_grpc(server, request), fragment))
        message = {"jsonData": {"table": [{"age": age, **record}]}}
        cases.append(Case("Seldon REST", label, seldon_rest(server, message), fragment))
        proto = json_to_seldon_message(message)
        cases.append(Case("Seldon gRPC", label, seldon_grpc(server, proto), fragment))
    message = {"jsonData": {"table": [{"age": 30, **record, "income": 10**400}]}}
    cases.append(Case("Seldon REST", "income 10**400", seldon_rest(server, message), "finite"))
    return cases


def test_hostile_shapes_and_values_are_refused_on_every_route(served, reliability):
    server, manifest = served
    cases = [
        *v2_cases(server, manifest),
        *seldon_cases(server, manifest),
        *loan_cases(server, manifest),
    ]
    wrong = []
    errors = 0
    for case in cases:
        outcome = case.send()
        errors += outcome.kind == "error"
        shown = f"{case.route} {case.name}: {outcome.code} {outcome.message[:300]}"
        if outcome.kind != "refused":
            wrong.append(shown)
        elif case.fragment not in outcome.message:
            wrong.append(f"{shown} (expected {case.fragment!r})")
        elif len(outcome.message) > MESSAGE_CHARS + 200:
            wrong.append(f"{case.route} {case.name}: a {len(outcome.message)}-character message")
    reliability.add(
        "hostile shapes and values",
        requests=len(cases),
        bad_inputs=len(cases),
        server_errors=errors,
    )
    assert not wrong, "\n".join(wrong)
    golden = {"jsonData": manifest.golden[0].input}
    assert seldon_rest(server, golden)().kind == "ok", "still serving after the hostile requests"
    assert seldon_grpc(server, json_to_seldon_message(golden))().kind == "ok"
