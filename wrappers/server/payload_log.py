"""Opt-in payload logging: a sample of predictions and feedback, sent as CloudEvents off the
request path.

Seldon Core 1.x's executor logs payloads for a graph node with a ``logger``; a model served
without the executor, or one that wants a sample only, logs here in the same shape (the
executor's ``logger/worker.go`` at v1.18.2): each request and its answer are CloudEvents of
type ``io.seldon.serving.inference.request`` / ``.response`` with their own ``Ce-Id`` and a
shared ``Ce-Requestid`` (the request's puid), the body as sent or answered as the data; feedback
is one event of type ``io.seldon.serving.feedback`` with the feedback as its data. To an
http(s) URL they are POSTed in binary mode (attributes as ``Ce-`` headers); to a file each is
one JSON line in structured mode (attributes as fields, the JSON body as ``data``).

The request path only draws the sample and puts the bodies in a bounded queue; one background
thread per process encodes and sends them. When the queue is full the prediction is dropped
and counted, so a slow or dead receiver never slows predictions.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import requests
from google.protobuf import json_format

logger = logging.getLogger(__name__)

REQUEST_TYPE = "io.seldon.serving.inference.request"
RESPONSE_TYPE = "io.seldon.serving.inference.response"
FEEDBACK_TYPE = "io.seldon.serving.feedback"
#: how long one POST may take before the event is given up (and the next one sent)
SEND_TIMEOUT_SECONDS = 5.0
#: a body is bytes as sent or answered, or a gRPC message the thread encodes
Body = Any


class Prediction(NamedTuple):
    """One logged prediction, as the request path hands it over."""

    request: Body
    response: Body
    #: the request's id when the transport carries it (Seldon's ``Seldon-Puid`` header)
    puid: str | None
    source: str
    #: ``seldon`` or ``v2``: the executor's ``Ce-Protocol``
    protocol: str = "seldon"
    #: Seldon feedback (the request is the ``Feedback``): one ``io.seldon.serving.feedback`` event
    feedback: bool = False


class PayloadLog:
    """Sends sampled request/answer pairs to ``destination`` from a background thread."""

    def __init__(
        self,
        destination: str,
        rate: float,
        capacity: int,
        attributes: dict[str, str],
        on_drop: Callable[[], None] = lambda: None,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.destination = destination
        self.to_url = destination.startswith(("http://", "https://"))
        self.rate = rate
        #: attributes every event carries: modelid, inferenceservicename, namespace, endpoint
        self.attributes = attributes
        self._capacity = capacity
        self._on_drop, self._on_failure = on_drop, on_failure
        self._start_lock = threading.Lock()
        self._queue: queue.Queue[Prediction] | None = None
        os.register_at_fork(after_in_child=self._forget_parents)

    def _forget_parents(self) -> None:
        # a forked worker has the queue but not the thread: it starts its own
        self._queue, self._start_lock = None, threading.Lock()

    def sampled(self) -> bool:
        return self.rate >= 1 or (self.rate > 0 and random.random() < self.rate)

    def offer(self, prediction: Prediction) -> None:
        """Queues one prediction for logging, or drops and counts it when the queue is full."""
        pending = self._queue if self._queue is not None else self._start()
        try:
            pending.put_nowait(prediction)
        except queue.Full:
            self._on_drop()

    def _start(self) -> queue.Queue[Prediction]:
        with self._start_lock:
            if self._queue is None:
                pending: queue.Queue[Prediction]
                pending = queue.Queue(self._capacity)
                threading.Thread(
                    target=self._send_forever, args=(pending,), name="payload-log", daemon=True
                ).start()
                self._queue = pending
        return self._queue

    def _send_forever(self, pending: queue.Queue[Prediction]) -> None:
        send = self._post if self.to_url else self._append
        session = requests.Session()
        failing = False
        while True:
            prediction = pending.get()
            try:
                for event in events(prediction, self.attributes):
                    send(session, *event)
            except Exception as error:  # the receiver's or the file's problem, never the model's
                self._on_failure()
                if not failing:
                    logger.warning("payload log: cannot send to %s: %s", self.destination, error)
                failing = True
            else:
                if failing:
                    logger.info("payload log: sending to %s again", self.destination)
                failing = False

    def _post(self, session: requests.Session, attributes: dict[str, str], body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        headers.update({"Ce-" + name.capitalize(): value for name, value in attributes.items()})
        answer = session.post(
            self.destination, data=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS
        )
        answer.raise_for_status()

    def _append(self, session: requests.Session, attributes: dict[str, str], body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = body.decode("utf-8", "replace")
        line = {**attributes, "datacontenttype": "application/json", "data": data}
        encoded = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        # one write of one whole line to a file opened for appending: lines of several
        # worker processes do not interleave
        descriptor = os.open(self.destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, encoded)
        finally:
            os.close(descriptor)


def events(
    prediction: Prediction, attributes: dict[str, str]
) -> list[tuple[dict[str, str], bytes]]:
    """A prediction's two CloudEvents: (attributes, JSON body) for the request and the answer."""
    request, response = encoded(prediction.request), encoded(prediction.response)
    requestid = prediction.puid or _puid_of(request) or str(uuid.uuid4())
    time = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    common = {
        "specversion": "1.0",
        "source": prediction.source,
        "time": time,
        "requestid": requestid,
        "protocol": prediction.protocol,
        **attributes,
    }
    bodies = [(REQUEST_TYPE, request), (RESPONSE_TYPE, response)]
    if prediction.feedback:
        bodies = [(FEEDBACK_TYPE, request)]
    return [({**common, "id": str(uuid.uuid4()), "type": kind}, body) for kind, body in bodies]


def encoded(body: Body) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(json_format.MessageToDict(body)).encode()


def _puid_of(body: bytes) -> str | None:
    """The puid Seldon's executor puts in a request's ``meta``, or a V2 request's ``id``."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("response"), dict):  # feedback: the answer it is about
        message = message["response"]
    meta = message.get("meta")
    puid = meta.get("puid") if isinstance(meta, dict) else message.get("id")
    return puid if isinstance(puid, str) and puid else None


def deployment_attributes(model_name: str) -> dict[str, str]:
    """The executor's attributes from the environment the Seldon operator gives a container
    (the model's own name outside a SeldonDeployment)."""
    return {
        "modelid": os.environ.get("PREDICTIVE_UNIT_ID", model_name),
        "inferenceservicename": os.environ.get("SELDON_DEPLOYMENT_ID", model_name),
        "namespace": os.environ.get("POD_NAMESPACE", _pod_namespace()),
        "endpoint": os.environ.get("PREDICTOR_ID", "default"),
    }


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as file:
            return file.read().strip()
    except OSError:
        return "default"
