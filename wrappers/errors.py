"""Error types: every failure the wrappers raise has a type that says who is at fault.

Request errors subclass Seldon's ``SeldonMicroserviceException`` so that both Seldon's own Flask
handler and the wrappers' blueprint answer them in Seldon's error shape
``{"status": {"status": 1, "info": ..., "code": <HTTP status>, "reason": ...}}``.
"""

from typing import Any, ClassVar

from seldon_core.flask_utils import SeldonMicroserviceException


class ServingError(SeldonMicroserviceException):
    """A request that cannot be answered with a prediction; ``status_code`` says why."""

    status_code: ClassVar[int] = 500
    reason: ClassVar[str] = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
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
