"""Error types: every failure the wrappers raise has a type that says who is at fault.

Request errors subclass Seldon's ``SeldonMicroserviceException`` so that both Seldon's own Flask
handler and the wrappers' blueprint answer them in Seldon's error shape
``{"status": {"status": 1, "info": ..., "code": <HTTP status>, "reason": ...}}``.
"""

import logging
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, TypeVar

import grpc
from seldon_core.flask_utils import SeldonMicroserviceException

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: the most characters of a request an error message quotes
EXCERPT_CHARS = 80
#: the most characters an error message has (a gRPC status travels in its trailers)
MESSAGE_CHARS = 2000
#: the gRPC status of each HTTP status the wrappers answer with (other 4xx: INVALID_ARGUMENT)
GRPC_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` as a message quotes it (a string as is, anything else as its repr), cut to
    ``limit`` characters: a refusal must not grow with the request it refuses."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def grpc_status(http_status: int) -> grpc.StatusCode:
    """The gRPC status code of an error's HTTP status."""
    if http_status in GRPC_STATUS:
        return GRPC_STATUS[http_status]
    return grpc.StatusCode.INTERNAL if http_status >= 500 else grpc.StatusCode.INVALID_ARGUMENT


def abort_grpc(context: grpc.ServicerContext, error: SeldonMicroserviceException) -> NoReturn:
    """Ends a gRPC call with the error's status code and its (bounded) message."""
    context.abort(grpc_status(error.status_code), excerpt(str(error.message), MESSAGE_CHARS))
    raise AssertionError("context.abort returns only by raising")


def answer_grpc(context: grpc.ServicerContext, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, its refusals given their status code; anything else unexpected is
    logged and answered INTERNAL, so that no error reaches the client as UNKNOWN."""
    try:
        return call(*args)
    except SeldonMicroserviceException as error:
        abort_grpc(context, error)
    except Exception as exc:
        logger.exception("gRPC %s failed", getattr(call, "__name__", call))
        message = excerpt(f"internal error: {type(exc).__name__}: {exc}", MESSAGE_CHARS)
        context.abort(grpc.StatusCode.INTERNAL, message)
        raise AssertionError("context.abort returns only by raising") from exc


class ServingError(SeldonMicroserviceException):
    """A request that cannot be answered with a prediction; ``status_code`` says why."""

    status_code: ClassVar[int] = 500
    reason: ClassVar[str] = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        message = excerpt(message, MESSAGE_CHARS)
        super().__init__(message, status_code=self.status_code, reason=self.reason)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return error_body(self.message, self.status_code, self.reason)


def error_body(info: str, code: int, reason: str) -> dict[str, Any]:
    """Seldon's error shape; ``code`` is the HTTP status (Seldon itself sends -1)."""
    return {"status": {"status": 1, "info": info, "code": code, "reason": reason}}


class InvalidInput(ServingError):
    """The request does not fit the model's declared input: the client's fault (HTTP 400)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the configured ``max_request_bytes`` (HTTP 413)."""

    status_code = 413
    reason = "MICROSERVICE_PAYLOAD_TOO_LARGE"


class NotServed(InvalidInput):
    """An endpoint of Seldon's API that a model does not serve (routers, transformers): 404."""

    status_code = 404
    reason = "MICROSERVICE_NOT_SERVED"


class ModelNotFound(ServingError):
    """A V2 request names a model or version this server does not serve (HTTP 404)."""

    status_code = 404
    reason = "MICROSERVICE_MODEL_NOT_FOUND"


class ModelNotReady(ServingError):
    """The worker has not loaded or failed its self-check (HTTP 503)."""

    status_code = 503
    reason = "MICROSERVICE_NOT_READY"


class ModelFailure(ServingError):
    """The model itself raised while predicting on valid input (HTTP 500, said plainly)."""


class ModelLoadError(RuntimeError):
    """The artifact cannot be trusted or loaded; the worker must not start serving."""


class ManifestError(ModelLoadError):
    """manifest.json is missing, malformed or disagrees with the model directory."""


class ScaffoldError(ValueError):
    """A model directory cannot be made from what was given; the message says what to pass."""


class UnsafeArtifact(ModelLoadError):
    """The artifact's format runs code as it loads, or holds a type nothing here trusts."""


class SignatureError(ModelLoadError):
    """The model directory's signature is missing, invalid, or does not cover its files."""
