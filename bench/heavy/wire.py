"""One request of a model (one image, one sentence) in each wire form the heavy cases send,
and how each answer reads back as the model's output array."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wrappers.contract import TensorSpec
from wrappers.core.manifest import Manifest
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2.binary import HEADER
from wrappers.protocols.v2.datatypes import OF_CONTRACT, to_raw

#: V2 gRPC's inference method, called with serialized requests
GRPC_METHOD = "/inference.GRPCInferenceService/ModelInfer"
JSON = "application/json"
OCTETS = "application/octet-stream"


@dataclass(frozen=True)
class Body:
    """A request as bytes: POSTed to ``path`` with ``headers`` (REST), or sent to ``path`` as a
    serialized message (gRPC)."""

    wire: str
    path: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def write(self, directory: Path, model: str) -> Path:
        path = directory / f"{model}-{self.wire}.body"
        path.write_bytes(self.data)
        return path


@dataclass(frozen=True)
class Sample:
    """The model's first golden input, one item of it: an image tensor or one text."""

    model: str
    input_name: str
    output_name: str
    value: np.ndarray  # [1, ...] float32 tensor, or [1] texts (str objects)
    text: bool

    @classmethod
    def of(cls, model_dir: Path) -> Sample:
        manifest = Manifest.read(model_dir)
        spec = manifest.inputs[0]
        given = manifest.golden[0].input[spec.name]
        if isinstance(spec, TensorSpec):
            value = np.asarray(given, dtype=spec.dtype)[:1]
        else:
            value = np.asarray(given, dtype=object).reshape(-1)[:1]
        text = not isinstance(spec, TensorSpec)
        return cls(manifest.name, spec.name, manifest.outputs[0].name, value, text)

    @property
    def datatype(self) -> str:
        return "BYTES" if self.text else OF_CONTRACT[str(self.value.dtype)]  # type: ignore[index]

    @property
    def v2_shape(self) -> list[int]:
        return [len(self.value), 1] if self.text else list(self.value.shape)

    def seldon(self) -> Body:
        body = {"data": {"ndarray": self.value.tolist()}}
        data = json.dumps(body).encode()
        return Body("seldon", "/api/v1.0/predictions", data, {"Content-Type": JSON})

    def v2_json(self, name: str | None = None) -> Body:
        tensor = {
            "name": self.input_name,
            "shape": self.v2_shape,
            "datatype": self.datatype,
            "data": self.value.reshape(-1).tolist(),
        }
        if self.text:
            tensor["parameters"] = {"content_type": "str"}
        body = json.dumps({"inputs": [tensor]}).encode()
        path = f"/v2/models/{name or self.model}/infer"
        return Body("v2-json", path, body, {"Content-Type": JSON})

    def v2_binary(self, name: str | None = None) -> Body:
        """The binary tensor extension: the tensor's raw bytes after the JSON, the answer too."""
        raw = to_raw(self.datatype, self.value)
        tensor = {
            "name": self.input_name,
            "shape": self.v2_shape,
            "datatype": self.datatype,
            "parameters": {"binary_data_size": len(raw)},
        }
        header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}})
        headers = {"Content-Type": OCTETS, HEADER: str(len(header.encode()))}
        path = f"/v2/models/{name or self.model}/infer"
        return Body("v2-binary", path, header.encode() + raw, headers)

    def grpc(self, name: str | None = None) -> Body:
        """A V2 ``ModelInferRequest`` with ``raw_input_contents`` (so the answer is raw too)."""
        request = pb.ModelInferRequest(model_name=name or self.model)
        tensor = request.inputs.add(
            name=self.input_name, datatype=self.datatype, shape=self.v2_shape
        )
        if self.text:
            tensor.parameters["content_type"].string_param = "str"
        request.raw_input_contents.append(to_raw(self.datatype, self.value))
        return Body("grpc", GRPC_METHOD, request.SerializeToString())

    def torchserve(self, name: str | None = None) -> Body:
        """TorchServe's own REST API: the tensor's raw float32 bytes or the UTF-8 text."""
        data = str(self.value[0]).encode() if self.text else self.value.tobytes()
        path = f"/predictions/{name or self.model}"
        return Body("torchserve", path, data, {"Content-Type": OCTETS})


def read_answer(wire: str, data: bytes, headers: dict[str, str]) -> np.ndarray:
    """The first output of an answer as a float array."""
    if wire == "grpc":
        reply = pb.ModelInferResponse.FromString(data)
        output = reply.outputs[0]
        if reply.raw_output_contents:
            raw = np.frombuffer(reply.raw_output_contents[0], "<f4")
        else:
            raw = np.asarray(output.contents.fp32_contents, dtype=np.float32)
        return raw.reshape(list(output.shape))
    if wire == "v2-binary" and HEADER.lower() in {k.lower() for k in headers}:
        length = int(next(v for k, v in headers.items() if k.lower() == HEADER.lower()))
        output = json.loads(data[:length])["outputs"][0]
        raw = data[length : length + output["parameters"]["binary_data_size"]]
        return np.frombuffer(raw, "<f4").reshape(output["shape"])
    body = json.loads(data)
    if wire == "seldon":
        return np.asarray(body["data"]["ndarray"], dtype=np.float32)
    if wire == "torchserve":
        return np.asarray(body, dtype=np.float32).reshape(1, -1)
    output = body["outputs"][0]
    return np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
