"""``inference.GRPCInferenceService`` on the gRPC server Seldon builds for the model.

``with_v2`` (applied by ``wrappers.server.patches``) wraps Seldon's ``wrapper.get_grpc_server``
so that the server it returns, on Seldon's gRPC port, carries this servicer beside Seldon's own
services. Requests take typed ``contents`` or ``raw_input_contents``; a response is raw when its
request was (as Triton and MLServer answer) or when an output is FP16, which has no typed
contents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from wrappers.errors import InvalidInput, answer_grpc, excerpt
from wrappers.limits import check_shape
from wrappers.protocols.v2 import dataplane
from wrappers.protocols.v2 import open_inference_pb2 as pb
from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc
from wrappers.protocols.v2.datatypes import (
    CONTENTS_FIELD,
    from_contents,
    from_raw,
    to_contents,
    to_raw,
)

if TYPE_CHECKING:
    from wrappers.core.model import ServedModel


def with_v2(get_grpc_server: Callable[..., grpc.Server]) -> Callable[..., grpc.Server]:
    """Seldon's ``wrapper.get_grpc_server``, whose server also carries the V2 servicer."""

    def get_server_with_v2(user_model: Any, seldon_metrics: Any, *args: Any, **kw: Any) -> Any:
        server = get_grpc_server(user_model, seldon_metrics, *args, **kw)
        if hasattr(user_model, "manifest"):  # a ServedModel, not any Seldon component
            # looked up now: ``wrappers.server.patches`` puts an observing subclass here
            servicer = InferenceServicer(user_model, seldon_metrics)
            pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
        return server

    return get_server_with_v2


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, model: ServedModel, seldon_metrics: Any = None) -> None:
        self.model = model
        #: Seldon's metrics of the server, for observers of the requests
        self.seldon_metrics = seldon_metrics

    def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.model.unready_reason() is None)

    def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> pb.ModelReadyResponse:
        answer_grpc(context, dataplane.check_model, self.model, request.name, request.version)
        return pb.ModelReadyResponse(ready=self.model.unready_reason() is None)

    def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: Any
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(**dataplane.server_metadata())

    def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: Any
    ) -> pb.ModelMetadataResponse:
        answer_grpc(context, dataplane.check_model, self.model, request.name, request.version)
        described = dataplane.model_metadata(self.model)
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=described["name"],
            versions=described["versions"],
            platform=described["platform"],
            inputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"])
                    for t in described["inputs"]],
            outputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"])
                     for t in described["outputs"]],
        )  # fmt: skip

    def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        return answer_grpc(context, self._infer, request)

    def _infer(self, request: pb.ModelInferRequest) -> pb.ModelInferResponse:
        answer = dataplane.infer(self.model, read_request(request, self.model.max_elements))
        raw = bool(request.raw_input_contents) or any(
            t.datatype not in CONTENTS_FIELD for t in answer.outputs
        )
        response = pb.ModelInferResponse(
            model_name=answer.model_name, model_version=answer.model_version, id=answer.id or ""
        )
        for tensor in answer.outputs:
            output = response.outputs.add(
                name=tensor.name, datatype=tensor.datatype, shape=tensor.array.shape
            )
            output.parameters["content_type"].string_param = tensor.content_type or "np"
            if raw:
                response.raw_output_contents.append(to_raw(tensor.datatype, tensor.array))
            else:
                to_contents(tensor.datatype, tensor.array, output.contents)
        return response


def read_request(request: pb.ModelInferRequest, max_elements: int) -> dataplane.InferRequest:
    """The request's tensors as arrays; no tensor may declare more than ``max_elements``."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs"
        )
    inputs = []
    for i, given in enumerate(request.inputs):
        where = excerpt(given.name)
        if raw and given.contents.ListFields():  # an empty contents message is no contents
            raise InvalidInput(f"{where}: contents and raw_input_contents together")
        shape = check_shape(list(given.shape), where, max_elements)
        if raw:
            array = from_raw(given.datatype, shape, raw[i], where)
        else:
            array = from_contents(given.datatype, shape, given.contents, where)
        inputs.append(
            dataplane.Tensor(given.name, given.datatype, array, _content_type(given.parameters))
        )
    return dataplane.InferRequest(
        model_name=request.model_name,
        model_version=request.model_version or None,
        inputs=inputs,
        id=request.id or None,
        outputs=[o.name for o in request.outputs] or None,
        content_type=_content_type(request.parameters),
    )


def _content_type(parameters: Any) -> str | None:
    if "content_type" not in parameters:
        return None
    parameter = parameters["content_type"]
    if parameter.WhichOneof("parameter_choice") != "string_param":
        raise InvalidInput("parameters.content_type is a string")
    return parameter.string_param
