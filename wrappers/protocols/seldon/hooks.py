"""The Seldon Core 1.x user-class hooks, as a thin adapter over the served model.

Seldon calls ``predict_raw`` first for REST (a dict) and gRPC (a ``SeldonMessage``), then, when
it raises ``SeldonNotImplementedError``, converts the payload itself and calls ``predict``.
Everything here reads or writes Seldon's message; the model's life cycle is ``ServedModel``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from google.protobuf.json_format import MessageToDict

from wrappers.codecs.numpy import to_wire
from wrappers.contract import Spec, TensorSpec
from wrappers.core.model import Request, ServedModel
from wrappers.errors import ModelNotReady, NotServed
from wrappers.protocols.seldon.envelope import (
    Envelope,
    check_feedback,
    check_message,
    check_proto,
)
from wrappers.protocols.seldon.message import answer_data, read_request

if TYPE_CHECKING:  # seldon_core.proto imports TensorFlow when it is installed
    from seldon_core.proto import prediction_pb2

#: the REST paths each kind of graph node answers besides feedback, the one Seldon's executor
#: calls first (a model also answers Seldon's older prediction paths)
KIND_PATHS = {
    "model": ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict"),
    "transformer": ("/transform-input",),
    "output_transformer": ("/transform-output",),
    "router": ("/route",),
    "combiner": ("/aggregate",),
}
#: the endpoint Seldon's executor calls for each kind of graph node
SERVED_ENDPOINTS = {kind: paths[0] for kind, paths in KIND_PATHS.items()}
#: the histogram of model call durations (a Seldon TIMER: milliseconds in, seconds exposed)
LATENCY_METRIC = "modelrepo_model_latency_seconds"


class SeldonHooks(ServedModel):
    """What Seldon's microservice calls on a user object, answered from the contract."""

    def predict_raw(self, request: Any) -> Any:
        """Answers REST and gRPC messages from the contract: envelope, codecs, checks, model.

        With ``fast_json`` off, a single-matrix model's requests continue, after the envelope
        check, with Seldon's own conversion and ``predict`` (``SeldonNotImplementedError`` is
        the signal); any other contract has no equivalent there.
        """
        from seldon_core.proto.prediction_pb2 import SeldonMessage
        from seldon_core.user_model import SeldonNotImplementedError

        self.require_kind("model")
        generic = not self.settings.fast_json and self.manifest.matrix is not None
        if isinstance(request, SeldonMessage):
            envelope = check_proto(request, self.max_elements)
            if generic:
                raise SeldonNotImplementedError("continue with Seldon's conversion and predict()")
            from seldon_core.utils import json_to_seldon_message

            meta = MessageToDict(request.meta)
            return json_to_seldon_message(self._answer(meta, envelope))
        envelope = check_message(request, self.max_elements)
        if generic:
            raise SeldonNotImplementedError("continue with Seldon's conversion and predict()")
        return self._answer(request.get("meta") or {}, envelope)

    def send_feedback_raw(self, feedback: prediction_pb2.Feedback) -> Any:
        """Feedback is accepted and ignored; only its arrays are checked so Seldon can read them."""
        from seldon_core.user_model import SeldonNotImplementedError

        check_feedback(feedback, self.max_elements)
        raise SeldonNotImplementedError("continue with Seldon's default feedback handling")

    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> Any:
        """The Python and Seldon-generic entry: one input's value, or values by input name.

        Returns the output as an array when the model answers with one output, else a dict of
        output name -> array. Raises ``InvalidInput`` (400) for a request that does not fit
        the contract, ``ModelNotReady`` (503) before a successful self-check, ``ModelFailure``
        (500) when the model itself raises.
        """
        inputs = self.manifest.inputs
        if isinstance(X, dict) and (len(inputs) > 1 or set(X) == {inputs[0].name}):
            request = Request(dict(X))
        else:
            request = Request({inputs[0].name: X}, {inputs[0].name: features_names})
        outputs = {name: self._encode(value) for name, value in self.infer(request).items()}
        if len(self.outputs) == 1:
            return outputs[self.outputs[0].name]
        return outputs

    def require_kind(self, kind: str) -> None:
        """Refuses (404) a method of another kind of graph node than the manifest's."""
        served = self.manifest.kind
        if served != kind:
            raise NotServed(
                f"{self.manifest.name} is a {served}: Seldon calls it on "
                f"{SERVED_ENDPOINTS[served]}, not on {SERVED_ENDPOINTS[kind]}"
            )

    def _answer(self, meta: dict[str, Any], envelope: Envelope) -> dict:
        """The whole Seldon answer: outputs, names, tags, this request's metrics."""
        request = read_request(envelope, self.manifest.inputs)
        return self._reply(meta, self.infer(request), request.kind)

    def _reply(self, meta: dict[str, Any], outputs: dict[str, Any], kind: str) -> dict:
        """The outputs in Seldon's answer, with the request's tags, puid and path and this
        call's metrics in its ``meta``."""
        from seldon_core.utils import get_request_path

        for value in outputs.values():
            self.count_nonfinite(value)  # answer_data sends them as null
        answer_meta: dict[str, Any] = {"tags": {**meta.get("tags", {}), **self.tags()}}
        for key, value in (
            ("metrics", self.metrics()),
            ("puid", meta.get("puid")),
            ("requestPath", {**get_request_path(), **meta.get("requestPath", {})}),
        ):
            if value:
                answer_meta[key] = value
        return {**answer_data(outputs, self.outputs, kind), "meta": answer_meta}

    def _encode(self, output: Any) -> np.ndarray:
        """An output as it goes on the wire (``codecs.numpy.to_wire``), non-finite ones counted."""
        self.count_nonfinite(output)
        return to_wire(np.asarray(output))

    def init_metadata(self) -> dict[str, Any]:
        """Seldon's metadata: a single matrix as ``ndarray`` with names and shape, every
        other spec as ``jsonData`` with the spec itself as its schema."""
        m = self.manifest
        return {
            **self.describe(),
            "inputs": [_metadata(s, m.matrix is not None) for s in m.inputs],
            "outputs": [_metadata(s, len(self.outputs) == 1) for s in self.outputs],
            "custom": {
                "python_version": m.python_version,
                "description": m.description,
                "verified": str(self.verified).lower(),
            },
        }

    def class_names(self) -> list[str]:
        """The single output's column names (a classifier's classes)."""
        return self.outputs[0].columns if len(self.outputs) == 1 else []

    def tags(self) -> dict[str, str]:
        return {"model_name": self.manifest.name, "model_version": self.manifest.version}

    def metrics(self) -> list[dict[str, Any]]:
        """Seldon's metrics of this thread's last model call, reported once.

        The model's latency is a TIMER, exposed as the histogram
        ``modelrepo_model_latency_seconds``; ``wrappers.server.metrics`` keeps merging it cheap
        (one bucket incremented in the worker, copied to Seldon's metrics process in the
        background).
        """
        call = self.last_call()
        if call is None:
            return []
        metrics = [
            {"type": "COUNTER", "key": "modelrepo_rows_predicted", "value": call.rows},
            {"type": "TIMER", "key": LATENCY_METRIC, "value": call.millis},
        ]
        if call.nonfinite:
            metrics.append(
                {"type": "COUNTER", "key": "modelrepo_nonfinite_outputs", "value": call.nonfinite}
            )
        return metrics

    def health_status(self) -> dict[str, str]:
        if reason := self.unready_reason():
            raise ModelNotReady(reason)
        return {"status": "ready", "model": self.manifest.name, "version": self.manifest.version}


def _metadata(spec: Spec, as_ndarray: bool) -> dict[str, Any]:
    if as_ndarray and isinstance(spec, TensorSpec):
        return {"messagetype": "ndarray", "schema": {"names": spec.columns, "shape": spec.shape}}
    return {"messagetype": "jsonData", "schema": spec.model_dump()}
