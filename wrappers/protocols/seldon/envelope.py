"""Checks a SeldonMessage's envelope before Seldon converts it, so a bad payload is a clear 400.

Seldon 1.18 turns ``data.ndarray``/``data.tensor``/``data.tftensor`` into a numpy array before
the model's ``predict`` runs; a ragged list, a tensor whose values do not fill its shape or a
``meta`` of the wrong type make that conversion raise, which Seldon answers with HTTP 500. These
checks run first (from ``SeldonHooks.predict_raw``, for REST and gRPC alike) and leave the
contents of the inputs to the codecs and the contract's checks. A declared shape (``tensor``,
``tftensor``) is held to ``wrappers.limits.check_shape`` before anything converts it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from google.protobuf.json_format import MessageToDict

from wrappers.codecs.numpy import rectangular
from wrappers.errors import InvalidInput, excerpt
from wrappers.limits import check_shape

if TYPE_CHECKING:  # seldon_core.proto and .utils import TensorFlow when it is installed
    from seldon_core.proto import prediction_pb2

DATA_KINDS = ("ndarray", "tensor", "tftensor")
EXAMPLE = '{"data": {"ndarray": [[...]]}}'


@dataclass(frozen=True)
class Envelope:
    """A checked message's payload: found and checked once, then read by ``message``."""

    #: ndarray, tensor or tftensor (under ``data``), strData or jsonData
    kind: str
    #: the payload as sent
    value: Any
    #: ``data.names``
    names: list[str] | None = None
    #: ``data.ndarray`` as the array its check built
    array: np.ndarray | None = None


def check_message(message: object, max_elements: int) -> Envelope:
    """Checks a SeldonMessage as JSON (a REST body, or a gRPC message converted) before Seldon
    or the codecs read it; no tensor may declare more than ``max_elements``.

    ``data.ndarray`` comes back as the array its check built, so that it is converted once.
    """
    require_object(message, "the request")
    _check_meta(message.get("meta"))
    kinds = [k for k in message if k != "meta"]
    if "data" not in message:
        if kinds == ["strData"] and not isinstance(message["strData"], str):
            raise InvalidInput("expected strData to be a string")
        if kinds in (["strData"], ["jsonData"]):
            return Envelope(kinds[0], message[kinds[0]])
        raise _wrong_kind(kinds)
    data = message["data"]
    if not isinstance(data, dict):
        raise InvalidInput(
            f"expected data to be an object such as {EXAMPLE}, got a JSON {_json_type(data)}"
        )
    names = data.get("names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        raise InvalidInput("expected data.names to be a list of strings")
    kind = _one_data_kind([k for k in DATA_KINDS if k in data], list(data))
    value = data[kind]
    if kind == "ndarray":
        if not isinstance(value, list):
            raise InvalidInput(
                f"expected data.ndarray to be a list of rows, got a JSON {_json_type(value)}"
            )
        return Envelope(kind, value, names, rectangular(value, "data.ndarray"))
    if kind == "tensor":
        if not isinstance(value, dict) or not isinstance(value.get("values"), list):
            raise InvalidInput('expected data.tensor to be {"shape": [...], "values": [...]}')
        _check_tensor(value.get("shape"), len(value["values"]), "data", max_elements)
        return Envelope(kind, value, names)
    from seldon_core.utils import extract_request_parts_json

    _check_tftensor_shape(_readable_tftensor(lambda: _tftensor_proto(value)), "data", max_elements)
    array = _readable_tftensor(lambda: extract_request_parts_json({"data": {"tftensor": value}}))
    return Envelope(kind, array[0], names)


def require_object(value: object, what: str) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(
            f"expected {what} to be a JSON object (a SeldonMessage such as {EXAMPLE}), "
            f"got a JSON {_json_type(value)}"
        )


def check_proto(message: prediction_pb2.SeldonMessage, max_elements: int) -> Envelope:
    """Checks a gRPC ``SeldonMessage`` before Seldon or the codecs convert its payload."""
    kind = message.WhichOneof("data_oneof")
    if kind == "data":
        envelope = check_default_data(message.data, "data", max_elements)
        assert envelope is not None  # required: a message without a payload was refused
        return envelope
    if kind == "strData":
        return Envelope(kind, message.strData)
    if kind == "jsonData":
        return Envelope(kind, MessageToDict(message.jsonData))
    raise _wrong_kind([kind] if kind else [])


def check_feedback(feedback: prediction_pb2.Feedback, max_elements: int) -> None:
    """Checks the request and truth of a ``Feedback``, the parts Seldon converts to arrays."""
    for part in ("request", "truth"):
        message = getattr(feedback, part)
        if message.WhichOneof("data_oneof") == "data":
            check_default_data(message.data, f"{part}.data", max_elements, required=False)


def check_default_data(
    data: prediction_pb2.DefaultData, where: str, max_elements: int, *, required: bool = True
) -> Envelope | None:
    """Checks a gRPC ``DefaultData``; its payload as an envelope (None when absent and not
    required)."""
    kind, names = data.WhichOneof("data_oneof"), list(data.names) or None
    if kind is None:
        if required:
            _one_data_kind([], [])
        return None
    if kind == "ndarray":
        rows = MessageToDict(data.ndarray)
        return Envelope(kind, rows, names, rectangular(rows, f"{where}.ndarray"))
    if kind == "tensor":
        shape, values = list(data.tensor.shape), data.tensor.values
        _check_tensor(shape, len(values), where, max_elements)
        return Envelope(kind, {"shape": shape, "values": list(values)}, names)
    from seldon_core.utils import grpc_datadef_to_array

    _check_tftensor_shape(data.tftensor, where, max_elements)
    return Envelope(kind, _readable_tftensor(lambda: grpc_datadef_to_array(data)), names)


def _check_tensor(shape: Any, count: int, where: str, max_elements: int) -> None:
    if isinstance(shape, list) and not shape:
        raise InvalidInput(f"expected {where}.tensor.shape to be a non-empty list")
    dims = check_shape(shape, f"{where}.tensor.shape", max_elements)
    if math.prod(dims) != count:
        raise InvalidInput(
            f"{where}.tensor has {count} values, but its shape {list(dims)} needs {math.prod(dims)}"
        )


def _tftensor_proto(value: object) -> Any:
    """A REST ``tftensor`` as TensorFlow's ``TensorProto``, as Seldon reads it."""
    from google.protobuf import json_format
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    return json_format.ParseDict(value, TensorProto(), ignore_unknown_fields=False)


def _check_tftensor_shape(proto: Any, where: str, max_elements: int) -> None:
    """TensorFlow fills a tftensor's whole declared shape, from a single value if need be."""
    if proto.tensor_shape.unknown_rank:
        raise InvalidInput(f"{where}.tftensor: the shape's rank must be known")
    check_shape([d.size for d in proto.tensor_shape.dim], f"{where}.tftensor", max_elements)


def _readable_tftensor(read: Callable[[], object]) -> Any:
    """A tftensor is only as valid as TensorFlow's parser says: run Seldon's conversion."""
    try:
        return read()
    except Exception as exc:  # any parse error of the client's tensor is the client's fault
        raise InvalidInput(f"cannot read data.tftensor: {type(exc).__name__}: {exc}") from exc


def _check_meta(meta: object) -> None:
    """Seldon echoes ``meta`` into the response: it must have the shape Seldon expects."""
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise InvalidInput(f"expected meta to be an object, got a JSON {_json_type(meta)}")
    for key, expected in (("tags", dict), ("requestPath", dict), ("metrics", list)):
        if key in meta and not isinstance(meta[key], expected):
            raise InvalidInput(
                f"expected meta.{key} to be a JSON {_json_type(expected())}, "
                f"got a JSON {_json_type(meta[key])}"
            )
    try:
        json.dumps(meta, allow_nan=False)
    except ValueError as exc:
        raise InvalidInput("meta must not contain NaN or Infinity") from exc


def _one_data_kind(kinds: Sequence[str], keys: Sequence[str]) -> str:
    if len(kinds) != 1:
        raise InvalidInput(
            f"expected data to hold exactly one of {', '.join(DATA_KINDS)}, got keys "
            f"{excerpt(list(keys))}"
        )
    return kinds[0]


def _wrong_kind(kinds: Sequence[str]) -> InvalidInput:
    got = f"got {excerpt(', '.join(kinds))}" if kinds else "the request holds no payload"
    return InvalidInput(
        f"send the inputs as data.ndarray, data.tensor, data.tftensor, jsonData or strData "
        f"(for example {EXAMPLE}); {got}"
    )


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return next((n for t, n in names.items() if isinstance(value, t)), "number")
