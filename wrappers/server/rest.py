"""The Flask blueprint Seldon registers on its REST app (``user_model.model_error_handler``).

Seldon 1.18 reads and converts the request before the model's code runs, and answers anything
unexpected with HTTP 500. The blueprint runs before Seldon's views: it refuses bodies over the
size limit (413), bodies that are not JSON and the endpoints of other kinds of graph node
(a model's ``/route``, a router's predictions: 404), with the
reason in Seldon's error shape; and it gives Flask's own HTTP errors (404, 405, 413) that shape
instead of Seldon's catch-all 500.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from seldon_core.flask_utils import SeldonMicroserviceException, get_request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from wrappers.errors import InvalidInput, NotServed, PayloadTooLarge, error_body, excerpt
from wrappers.protocols.seldon import hooks
from wrappers.protocols.seldon.envelope import EXAMPLE, require_object

FEEDBACK_PATHS = frozenset({"/send-feedback", "/api/v1.0/feedback", "/api/v0.1/feedback"})
#: the paths each kind of graph node answers besides feedback (Seldon's executor calls a
#: MODEL's predict, a TRANSFORMER's transform-input, and so on)
KIND_PATHS = {kind: frozenset(paths) for kind, paths in hooks.KIND_PATHS.items()}
#: every path that carries a message to one kind of node
NODE_PATHS = frozenset().union(*KIND_PATHS.values())


def served_paths(kind: str) -> frozenset[str]:
    """The message paths a node of this kind answers: its method's and feedback's."""
    return KIND_PATHS[kind] | FEEDBACK_PATHS


def error_blueprint(model_name: str, max_request_bytes: int, kind: str = "model") -> Blueprint:
    blueprint = Blueprint("modelrepo_errors", __name__)
    served = served_paths(kind)

    def too_large(length: int | None) -> PayloadTooLarge:
        size = f"of {length} bytes " if length is not None else ""
        return PayloadTooLarge(
            f"request body {size}exceeds the limit of {max_request_bytes} bytes (max_request_bytes)"
        )

    @blueprint.record_once
    def limit_body(state: BlueprintSetupState) -> None:
        # Werkzeug enforces it while parsing form bodies
        state.app.config["MAX_CONTENT_LENGTH"] = max_request_bytes

    @blueprint.before_app_request
    def check_request() -> None:
        length = request.content_length
        if length is not None and length > max_request_bytes:
            raise too_large(length)
        if length is None and request.environ.get("wsgi.input_terminated"):
            buffer_chunked_body(max_request_bytes, too_large)
        if request.routing_exception is not None:
            return  # Flask answers an unknown URL or method (404, 405) itself
        if request.path in NODE_PATHS - served:
            raise NotServed(
                f"{model_name} is a {kind}: it answers {hooks.SERVED_ENDPOINTS[kind]}; "
                f"{request.path} is for another kind of graph node"
            )
        if request.path in served:
            message = read_message()
            if not (isinstance(message, list) and request.path in KIND_PATHS["combiner"]):
                require_object(message, "the request")  # a combiner is sent a JSON list

    @blueprint.app_errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        if isinstance(error, RequestEntityTooLarge):
            return as_response(too_large(request.content_length))
        code = error.code or 500
        reason = "HTTP_" + (error.name or "error").upper().replace(" ", "_")
        return jsonify(error_body(error.description or str(error), code, reason)), code

    return blueprint


def buffer_chunked_body(limit: int, too_large: Callable[[None], PayloadTooLarge]) -> None:
    """Reads a chunked body (no Content-Length) up to the limit, so it cannot exceed it.

    Werkzeug hands gunicorn's chunked stream through without applying MAX_CONTENT_LENGTH.
    """
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise too_large(None)
    request.environ["wsgi.input"] = io.BytesIO(body)


def as_response(error: SeldonMicroserviceException) -> tuple[Response, int]:
    return jsonify(error.to_dict()), error.status_code


def read_message() -> object:
    """The request as Seldon's own reader sees it, with a precise reason when it cannot.

    For a plain JSON body without query parameters Seldon's reader returns Flask's cached
    parse, so that is read directly; Seldon's view runs its reader once more anyway, and one
    pass over the form and query string per request is enough.
    """
    if request.mimetype == "application/json" and not request.query_string:
        with contextlib.suppress(BadRequest, RecursionError):  # said precisely below
            return request.get_json()
    try:
        return get_request()
    except SeldonMicroserviceException:  # Seldon's "Can't find JSON in data"
        raise InvalidInput(why_no_json()) from None
    except (ValueError, RecursionError) as exc:  # a "json" field, or JSON nested too deep
        raise InvalidInput(f"the request is not valid JSON: {exc}") from exc


def why_no_json() -> str:
    body = request.get_data(cache=True)
    if not body:
        return (
            f"the request has no body: send a SeldonMessage such as {EXAMPLE} as "
            f"application/json, or as a form field or query parameter named json"
        )
    if not request.is_json:
        given = excerpt(repr(request.content_type))
        return f"expected Content-Type application/json for a JSON body, got {given}"
    try:
        json.loads(body)
    except (ValueError, RecursionError) as exc:
        return f"the body is not valid JSON: {exc}"
    return "the body is not valid JSON"
