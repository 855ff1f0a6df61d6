"""Error types: every failure the wrappers raise has a type that says who is at fault."""

from seldon_core.flask_utils import SeldonMicroserviceException


class InvalidInput(SeldonMicroserviceException):
    """The request does not fit the model's declared input: the client's fault (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400, reason="MICROSERVICE_BAD_DATA")

    def __str__(self) -> str:
        return self.message


class ModelNotReady(SeldonMicroserviceException):
    """The worker has not loaded or failed its self-check (HTTP 503)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=503, reason="MICROSERVICE_NOT_READY")

    def __str__(self) -> str:
        return self.message


class ModelFailure(SeldonMicroserviceException):
    """The model itself raised while predicting on valid input (HTTP 500, said plainly)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=500, reason="MICROSERVICE_INTERNAL_ERROR")

    def __str__(self) -> str:
        return self.message


class ModelLoadError(RuntimeError):
    """The artifact cannot be trusted or loaded; the worker must not start serving."""


class ManifestError(ModelLoadError):
    """manifest.json is missing, malformed or disagrees with the model directory."""


class ScaffoldError(ValueError):
    """A model directory cannot be made from what was given; the message says what to pass."""
