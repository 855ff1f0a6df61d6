"""Sends one Seldon prediction request: to a server over REST or gRPC, or to a directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from wrappers.errors import ModelLoadError

REST_PATH = "/api/v1.0/predictions"


class ServerError(RuntimeError):
    """The server answered with an error; ``status`` is the HTTP status or the gRPC code name."""

    def __init__(self, status: int | str, message: str) -> None:
        super().__init__(f"the server answered {status}: {message}")
        self.status = status


class Unreachable(ConnectionError):
    """No server answered at the address."""


def request_body(rows: Any, names: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"ndarray": rows}
    if names:
        data["names"] = names
    return {"data": data}


def predict_rest(url: str, body: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    endpoint = url.rstrip("/") + REST_PATH if REST_PATH not in url else url
    try:
        answer = requests.post(endpoint, json=body, timeout=timeout)
    except requests.ConnectionError as exc:
        raise Unreachable(f"no server answers at {endpoint}") from exc
    except requests.Timeout as exc:
        raise Unreachable(f"{endpoint} did not answer within {timeout:.0f}s") from exc
    try:
        document = answer.json()
    except ValueError:
        document = None
    if answer.status_code != 200:
        info = (document or {}).get("status", {}).get("info") if document else None
        raise ServerError(answer.status_code, info or answer.text.strip()[:500])
    return document


def grpc_target(address: str) -> str:
    """``host:port`` from ``grpc://host:port``, ``http://host:port`` or ``host:port``."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    if not parts.hostname or not parts.port:
        raise ValueError(f"expected host:port for gRPC, got {address!r}")
    return f"{parts.hostname}:{parts.port}"


def predict_grpc(address: str, body: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    import grpc
    from seldon_core.proto import prediction_pb2_grpc
    from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

    target = grpc_target(address)
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise Unreachable(f"no gRPC server answers at {target}") from exc
        stub = prediction_pb2_grpc.ModelStub(channel)
        try:
            reply = stub.Predict(json_to_seldon_message(body), timeout=timeout)
        except grpc.RpcError as exc:
            raise ServerError(exc.code().name, exc.details() or "") from exc
    return seldon_message_to_json(reply)


def predict_local(model_dir: Path, body: dict[str, Any]) -> dict[str, Any]:
    """Loads the directory's ``MyModel`` in this process and answers as the server would."""
    from modelrepo.modeldir.check import user_class
    from wrappers.core.manifest import Manifest

    manifest = Manifest.read(model_dir)
    cls, problem = user_class(model_dir, manifest)
    if problem:
        raise ModelLoadError(problem)
    model = cls(model_dir=model_dir, fast_json=True)
    model.load()
    answer = model.predict_raw(body)  # the server's own path for a REST message
    answer["meta"].pop("metrics", None)
    return answer


def load_body(text: str) -> dict[str, Any]:
    """A request from ``--data``: rows (``[[...]]``) or a whole Seldon message."""
    document = json.loads(text)
    if isinstance(document, dict):
        if not {"data", "jsonData", "strData"} & document.keys():
            raise ValueError(
                'expected rows like [[1, 2]] or a message like {"data": {...}}, '
                '{"jsonData": ...} or {"strData": "..."}'
            )
        return document
    return request_body(document)
