"""One request over each of the four routes a model serves: Seldon REST and gRPC, V2 REST and gRPC.

Each call answers an ``Answer``: the first output as an array, or the refusal's code (an HTTP
status, or a gRPC status code's name) and message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import requests
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
from wrappers.protocols.v2.datatypes import CONTENTS_FIELD

ROUTES = ("seldon-rest", "seldon-grpc", "v2-rest", "v2-grpc")
TIMEOUT = 60


@dataclass
class Answer:
    code: int | str
    message: str = ""
    output: np.ndarray | None = None

    @property
    def refused(self) -> bool:
        return self.code in (400, "INVALID_ARGUMENT")


def seldon(route: str, target: str, message: dict[str, Any]) -> Answer:
    """A Seldon message over REST (``target`` a URL) or gRPC (``host:port``)."""
    if route == "seldon-rest":
        answer = requests.post(f"{target}/api/v1.0/predictions", json=message, timeout=TIMEOUT)
        if answer.status_code != 200:
            return Answer(answer.status_code, answer.json()["status"]["info"])
        return Answer(200, output=np.asarray(answer.json()["data"]["ndarray"]))
    with grpc.insecure_channel(target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        try:
            reply = stub.Predict(json_to_seldon_message(message), timeout=TIMEOUT)
        except grpc.RpcError as error:
            return Answer(error.code().name, error.details() or "")
    return Answer("OK", output=np.asarray(seldon_message_to_json(reply)["data"]["ndarray"]))


def v2(route: str, target: str, model: str, tensor: dict[str, Any]) -> Answer:
    """One V2 input tensor (``name``, ``datatype``, ``shape``, flat ``data``) over REST or gRPC."""
    if route == "v2-rest":
        body = {"inputs": [tensor]}
        answer = requests.post(f"{target}/v2/models/{model}/infer", json=body, timeout=TIMEOUT)
        if answer.status_code != 200:
            return Answer(answer.status_code, answer.json()["error"])
        (output, *_) = answer.json()["outputs"]
        return Answer(200, output=np.reshape(output["data"], output["shape"]))
    request = pb.ModelInferRequest(model_name=model)
    given = request.inputs.add(name=tensor["name"], datatype=tensor["datatype"])
    given.shape.extend(tensor["shape"])
    data = tensor["data"]
    if tensor["datatype"] == "BYTES":
        data = [d.encode() for d in data]
    getattr(given.contents, CONTENTS_FIELD[tensor["datatype"]]).extend(data)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        try:
            reply = stub.ModelInfer(request, timeout=TIMEOUT)
        except grpc.RpcError as error:
            return Answer(error.code().name, error.details() or "")
    output = reply.outputs[0]
    values = getattr(output.contents, CONTENTS_FIELD[output.datatype])
    return Answer("OK", output=np.reshape(list(values), list(output.shape)))
