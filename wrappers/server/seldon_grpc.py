"""Seldon's gRPC servicer, answering a refused request with its status code.

Seldon Core 1.18.2 lets the exception of a refused gRPC request escape, so the client sees
UNKNOWN. ``with_status_codes`` answers Seldon's errors with the status code of
``wrappers.errors.grpc_status`` and their (bounded) message.
"""

from __future__ import annotations

from typing import Any

from wrappers.errors import answer_grpc


def with_status_codes(servicer: type) -> type:
    """Seldon's ``SeldonModelGRPC`` class ``servicer``, with status codes instead of UNKNOWN."""

    class StatusCodes(servicer):  # type: ignore[misc, valid-type]
        def Predict(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().Predict, request, context)

        def SendFeedback(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().SendFeedback, request, context)

        def TransformInput(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().TransformInput, request, context)

        def TransformOutput(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().TransformOutput, request, context)

        def Route(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().Route, request, context)

        def Aggregate(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().Aggregate, request, context)

    return StatusCodes
