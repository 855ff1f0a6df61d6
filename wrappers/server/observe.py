"""What the server records of each prediction request (applied by ``wrappers.server.patches``).

Seldon Core 1.18.2 records only the metrics a model returns with a successful answer, labelled
``model_name="NOT_IMPLEMENTED"`` outside a SeldonDeployment. The servers built through these
replacements of Seldon's factories add:

* the manifest's name and version as the ``model_name`` and ``model_version`` labels of every
  metric (a SeldonDeployment's container name and image stay in ``predictor_name``,
  ``model_image``, ``image_name`` and ``image_version``);
* ``modelrepo_requests_total``: prediction requests by ``transport`` (rest, grpc) and status
  ``code`` (HTTP status, gRPC status name), recorded through the worker's own metrics
  (``wrappers.server.metrics``);
* the model's own metrics (latency, rows) for V2 inference requests, which Seldon does not
  serve and so does not record;
* the payload log of a sample of predictions (``wrappers.server.payload_log``), when configured:
  a graph node's own method (``/transform-input``, ``/route``, ...) counts as its prediction,
  and feedback is logged as the executor logs it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from wrappers.server.payload_log import PayloadLog, Prediction, deployment_attributes
from wrappers.server.rest import FEEDBACK_PATHS, KIND_PATHS

REQUESTS_METRIC = "modelrepo_requests"
DROPPED_METRIC = "modelrepo_payload_log_dropped"
FAILED_METRIC = "modelrepo_payload_log_failures"
METHOD = "predict"
GRPC_SOURCE = f"grpc://{socket.gethostname()}/"


def is_v2_inference(path: str) -> bool:
    """``/v2/models/<name>[/versions/<v>]/infer``."""
    return path.startswith("/v2/models/") and path.endswith("/infer")


def count(seldon_metrics: Any, key: str, **tags: str) -> None:
    seldon_metrics.update([{"type": "COUNTER", "key": key, "value": 1, "tags": tags}], METHOD)


def payload_log_for(user_model: Any, seldon_metrics: Any) -> PayloadLog | None:
    """The model's payload log, or None when its settings leave it off."""
    settings = getattr(user_model, "settings", None)
    if settings is None or not settings.payload_log or settings.payload_log_rate == 0:
        return None
    return PayloadLog(
        settings.payload_log,
        settings.payload_log_rate,
        settings.payload_log_queue,
        deployment_attributes(user_model.manifest.name),
        on_drop=lambda: count(seldon_metrics, DROPPED_METRIC),
        on_failure=lambda: count(seldon_metrics, FAILED_METRIC),
    )


def observed_rest(get_rest_microservice: Callable[..., Flask]) -> Callable[..., Flask]:
    """Seldon's ``get_rest_microservice``, whose app counts, measures and logs predictions."""

    def observed(user_model: Any, seldon_metrics: Any) -> Flask:
        app = get_rest_microservice(user_model, seldon_metrics)
        payloads = payload_log_for(user_model, seldon_metrics)

        kind = getattr(getattr(user_model, "manifest", None), "kind", "model")
        served = KIND_PATHS[kind]

        @app.after_request
        def after(response: Response) -> Response:
            v2 = is_v2_inference(request.path)
            if request.path in FEEDBACK_PATHS:
                accepted = response.status_code == 200
                if accepted and payloads is not None and payloads.sampled():
                    puid = request.headers.get("Seldon-Puid")
                    body = request.get_data()
                    payloads.offer(Prediction(body, b"", puid, request.host_url, feedback=True))
                return response
            if not v2 and request.path not in served:
                return response
            count(seldon_metrics, REQUESTS_METRIC, transport="rest", code=str(response.status_code))
            if v2:
                seldon_metrics.update(user_model.metrics(), METHOD)
            if payloads is not None and payloads.sampled():
                puid = request.headers.get("Seldon-Puid")
                payloads.offer(
                    Prediction(
                        request.get_data(),
                        response.get_data(),
                        puid,
                        request.host_url,
                        "v2" if v2 else "seldon",
                    )
                )
            return response

        return app

    return observed


def observed_grpc(servicer: type) -> type:
    """Seldon's ``SeldonModelGRPC`` class ``servicer``, counting predictions by the status
    code they end with (so it goes over the servicer that sets those codes) and logging them."""

    class Observed(servicer):  # type: ignore[misc, valid-type]
        def __init__(self, user_model: Any, seldon_metrics: Any) -> None:
            super().__init__(user_model, seldon_metrics)
            self.payloads = payload_log_for(user_model, seldon_metrics)

        def Predict(self, request: Any, context: Any) -> Any:
            return self._observed(super().Predict, request, context)

        def TransformInput(self, request: Any, context: Any) -> Any:
            return self._observed(super().TransformInput, request, context)

        def TransformOutput(self, request: Any, context: Any) -> Any:
            return self._observed(super().TransformOutput, request, context)

        def Route(self, request: Any, context: Any) -> Any:
            return self._observed(super().Route, request, context)

        def Aggregate(self, request: Any, context: Any) -> Any:
            return self._observed(super().Aggregate, request, context)

        def SendFeedback(self, request: Any, context: Any) -> Any:
            answer = super().SendFeedback(request, context)
            if self.payloads is not None and self.payloads.sampled():
                self.payloads.offer(Prediction(request, b"", None, GRPC_SOURCE, feedback=True))
            return answer

        def _observed(self, call: Any, request: Any, context: Any) -> Any:
            answer = counted(self.seldon_metrics, context, call, request)
            if self.payloads is not None and self.payloads.sampled():
                self.payloads.offer(Prediction(request, answer, None, GRPC_SOURCE))
            return answer

    return Observed


def observed_v2_grpc(servicer: type) -> type:
    """The V2 ``InferenceServicer`` class ``servicer``, counting, measuring and logging
    inference requests."""

    class ObservedInference(servicer):  # type: ignore[misc, valid-type]
        def __init__(self, model: Any, seldon_metrics: Any) -> None:
            super().__init__(model, seldon_metrics)
            self.payloads = payload_log_for(model, seldon_metrics)

        def ModelInfer(self, request: Any, context: Any) -> Any:
            answer = counted(self.seldon_metrics, context, super().ModelInfer, request)
            self.seldon_metrics.update(self.model.metrics(), METHOD)
            if self.payloads is not None and self.payloads.sampled():
                self.payloads.offer(Prediction(request, answer, None, GRPC_SOURCE, "v2"))
            return answer

    return ObservedInference


def counted(seldon_metrics: Any, context: Any, call: Any, request: Any) -> Any:
    """``call(request, context)``, counted by the gRPC status it ends with."""
    code = "UNKNOWN"
    try:
        answer = call(request, context)
        code = "OK"
    except Exception:
        if context.code() is not None:
            code = context.code().name
        raise
    finally:
        count(seldon_metrics, REQUESTS_METRIC, transport="grpc", code=code)
    return answer


def labelling(make_server: Callable[..., Any]) -> Callable[..., Any]:
    """Seldon's REST server factory, which also labels the metrics with the served model.

    It runs in Seldon's main process before the metrics server is forked, with the model."""

    def make_labelled_server(user_object: Any, seldon_metrics: Any, *args: Any, **kw: Any) -> Any:
        manifest = getattr(user_object, "manifest", None)
        if manifest is not None and hasattr(seldon_metrics, "label_with"):
            seldon_metrics.label_with(
                {"model_name": manifest.name, "model_version": manifest.version}
            )
        return make_server(user_object, seldon_metrics, *args, **kw)

    return make_labelled_server
