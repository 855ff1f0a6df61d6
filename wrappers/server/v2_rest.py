"""The V2 REST endpoints, as a Flask blueprint on Seldon's REST app (the model's HTTP port).

``SeldonComponent.model_error_handler`` nests it in the blueprint Seldon registers, so these
routes also exist under plain ``seldon-core-microservice``. Errors are the protocol's
``{"error": "<message>"}`` with the HTTP status of the error type (400, 404, 413, 503, 500).
Tensors travel as JSON elements or, with the binary tensor extension
(``wrappers.protocols.v2.binary``), as raw bytes after the JSON, in requests and answers.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.exceptions import HTTPException

from wrappers.codecs.numpy import to_wire
from wrappers.errors import MESSAGE_CHARS, InvalidInput, ModelNotReady, excerpt
from wrappers.limits import check_shape
from wrappers.protocols.v2 import binary, dataplane
from wrappers.protocols.v2.datatypes import from_elements

if TYPE_CHECKING:
    from wrappers.core.model import ServedModel

logger = logging.getLogger(__name__)

PREFIX = "/v2"


class Parameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    content_type: StrictStr | None = None
    binary_data_size: Any = None
    binary_data_output: Any = None


class RequestInput(BaseModel):
    name: StrictStr
    shape: list[StrictInt]
    datatype: StrictStr
    parameters: Parameters | None = None
    #: absent when the elements travel binary (``parameters.binary_data_size``)
    data: Any = None


class RequestOutput(BaseModel):
    name: StrictStr
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """The protocol's ``$inference_request``; binary tensors are read apart."""

    id: StrictStr | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


def v2_blueprint(model: ServedModel) -> Blueprint:
    blueprint = Blueprint("v2", __name__, url_prefix=PREFIX)

    @blueprint.get("")
    def server_metadata() -> Response:
        return jsonify(dataplane.server_metadata())

    @blueprint.get("/health/live")
    def live() -> Response:
        return jsonify({"live": True})

    @blueprint.get("/health/ready")
    def ready() -> Response:
        _require_ready(model)
        return jsonify({"ready": True})

    @blueprint.get("/models/<name>")
    @blueprint.get("/models/<name>/versions/<version>")
    def model_metadata(name: str, version: str | None = None) -> Response:
        dataplane.check_model(model, name, version)
        return jsonify(dataplane.model_metadata(model))

    @blueprint.get("/models/<name>/ready")
    @blueprint.get("/models/<name>/versions/<version>/ready")
    def model_ready(name: str, version: str | None = None) -> Response:
        dataplane.check_model(model, name, version)
        _require_ready(model)
        return jsonify({"name": name, "ready": True})

    @blueprint.post("/models/<name>/infer")
    @blueprint.post("/models/<name>/versions/<version>/infer")
    def infer(name: str, version: str | None = None) -> Response:
        dataplane.check_model(model, name, version)
        parsed, given = read_request(name, version, model.max_elements)
        return write_response(dataplane.infer(model, given), parsed)

    _answer_errors_in_v2_shape(blueprint)
    return blueprint


def _answer_errors_in_v2_shape(blueprint: Blueprint) -> None:
    """Every V2 error is ``{"error": message}``: refusals, HTTP errors, unknown paths, and
    anything unexpected (logged, a bounded message)."""

    @blueprint.errorhandler(SeldonMicroserviceException)
    def serving_error(error: SeldonMicroserviceException) -> tuple[Response, int]:
        return jsonify({"error": excerpt(str(error.message), MESSAGE_CHARS)}), error.status_code

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        return jsonify({"error": error.description or str(error)}), error.code or 500

    @blueprint.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        logger.exception("V2 %s %s failed", request.method, request.path)
        message = excerpt(f"internal error: {type(error).__name__}: {error}", MESSAGE_CHARS)
        return jsonify({"error": message}), 500

    @blueprint.before_app_request
    def unknown_v2_path() -> tuple[Response, int] | None:
        """Unknown V2 paths and methods get the protocol's error, not Seldon's shape.

        Seldon's app serves static files from ``/<path>``, so an unknown GET reaches that view
        instead of failing to route.
        """
        under = request.path == PREFIX or request.path.startswith(PREFIX + "/")
        error = request.routing_exception
        if not under or (error is None and request.endpoint != "static"):
            return None
        if isinstance(error, HTTPException) and (error.code or 500) < 400:
            return None  # a redirect (a trailing slash): Flask answers it
        allowed = _methods_for(request.path)
        if allowed:
            message = f"{request.method} is not allowed on {request.path}; use {allowed}"
            return jsonify({"error": message}), 405
        return jsonify({"error": f"{request.path} is not a V2 endpoint"}), 404


def _methods_for(path: str) -> list[str]:
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != "static":
            allowed.append(method)
    return allowed


def _require_ready(model: ServedModel) -> None:
    if reason := model.unready_reason():
        raise ModelNotReady(reason)


def read_request(
    name: str, version: str | None, max_elements: int
) -> tuple[InferenceRequest, dataplane.InferRequest]:
    """The body as a V2 request, as sent and with its tensors decoded to arrays; no tensor may
    declare more than ``max_elements``."""
    data = request.get_data(cache=False)
    if not data:
        raise InvalidInput('the request has no body: send a V2 inference request {"inputs": [...]}')
    header, raw = binary.split(data, request.headers.get(binary.HEADER))
    parsed = parse(header)
    chosen = parsed.parameters.model_dump() if parsed.parameters else None
    for output in [*(o.parameters for o in parsed.outputs or []), None]:
        binary.wants_binary(chosen, output)  # refused before the model runs, not after
    inputs = []
    for given in parsed.inputs:
        where = excerpt(given.name)
        parameters = given.parameters or Parameters()
        shape = check_shape(given.shape, where, max_elements)
        if parameters.binary_data_size is not None:
            if "data" in given.model_fields_set:
                raise InvalidInput(f"{where}: data and binary_data_size together")
            array = raw.tensor(given.datatype, shape, parameters.binary_data_size, where)
        elif "data" not in given.model_fields_set:
            raise InvalidInput(f"{where}: no data: send data or parameters.binary_data_size")
        else:
            array = from_elements(given.datatype, shape, given.data, where, nullable=True)
        inputs.append(dataplane.Tensor(given.name, given.datatype, array, parameters.content_type))
    raw.finish()
    return parsed, dataplane.InferRequest(
        model_name=name,
        model_version=version,
        inputs=inputs,
        id=parsed.id,
        outputs=[o.name for o in parsed.outputs] if parsed.outputs else None,
        content_type=(parsed.parameters or Parameters()).content_type,
    )


def parse(header: bytes) -> InferenceRequest:
    """The JSON part of a body as a V2 inference request."""
    try:
        body = json.loads(header)
    except (ValueError, RecursionError) as exc:  # also bytes that are not UTF-8
        raise InvalidInput(f"the body is not valid JSON: {exc}") from exc
    try:
        return InferenceRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'the body'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"not a V2 inference request: {problems}") from None


def write_response(answer: dataplane.InferResponse, asked: InferenceRequest) -> Response:
    """The protocol's ``$inference_response``: flat JSON elements, NaN and Infinity as null;
    outputs asked for binary as raw bytes after the JSON."""
    wanted = {o.name: o.parameters for o in asked.outputs or []}
    request_parameters = asked.parameters.model_dump() if asked.parameters else None
    outputs, raw = [], []
    for t in answer.outputs:
        output: dict[str, Any] = {
            "name": t.name,
            "datatype": t.datatype,
            "shape": list(t.array.shape),
            "parameters": {"content_type": t.content_type},
        }
        if binary.wants_binary(request_parameters, wanted.get(t.name)):
            raw.append((output, t.datatype, t.array))
        else:
            output["data"] = to_wire(t.array).reshape(-1).tolist()
        outputs.append(output)
    body: dict[str, Any] = {
        "model_name": answer.model_name,
        "model_version": answer.model_version,
        "outputs": outputs,
    }
    if answer.id is not None:
        body["id"] = answer.id
    encoded, header_length = binary.encode(body, raw)
    if header_length is None:
        return Response(encoded, mimetype="application/json")
    return Response(
        encoded,
        mimetype=binary.BINARY_MEDIA_TYPE,
        headers={binary.HEADER: str(header_length)},
    )
