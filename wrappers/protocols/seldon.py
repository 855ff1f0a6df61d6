"""Seldon's protocol: a SeldonMessage to wire values by input name, and outputs to its answer.

Requests: ``data.ndarray`` (numbers, strings or mixed rows; ``data.names`` give the columns),
``data.tensor``, ``data.tftensor``, ``jsonData`` (a table as records or columns, a text batch,
or an object of input name -> value for several inputs) and ``strData`` (one text).
Answers: one output as ``data.ndarray`` (or ``data.tensor`` when asked so) with the output's
column names; several outputs as ``jsonData`` ``{output name: nested list}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wrappers.codecs.numpy import from_tensor, to_wire
from wrappers.contract import Spec, TensorSpec, TextSpec
from wrappers.errors import InvalidInput


@dataclass
class Request:
    """What a SeldonMessage asks, in the contract's terms."""

    values: dict[str, Any]
    names: dict[str, list[str] | None] = field(default_factory=dict)
    #: the payload kind, which the answer mirrors for tensors
    kind: str = "ndarray"


def read_request(
    message: Mapping[str, Any], inputs: Sequence[Spec], ndarray: Any = None
) -> Request:
    """The inputs a checked REST or gRPC message carries (``payload.check_message`` ran first).

    ``ndarray`` is ``data.ndarray`` as the envelope check already converted it, if it did.
    """
    first = inputs[0]
    if "data" in message:
        data = message["data"]
        kind = next(k for k in ("ndarray", "tensor", "tftensor") if k in data)
        if len(inputs) > 1:
            raise InvalidInput(
                f"this model takes the inputs {[s.name for s in inputs]}: send jsonData "
                f"{{{', '.join(f'{s.name!r}: ...' for s in inputs)}}}"
            )
        value = data[kind]
        numeric = isinstance(first, TensorSpec) and first.dtype != "string"
        if kind == "ndarray" and ndarray is not None and numeric:
            value = ndarray
        elif kind == "tensor":
            value = from_tensor(value)
        elif kind == "tftensor":
            from seldon_core.utils import extract_request_parts_json

            value = extract_request_parts_json({"data": {"tftensor": value}})[0]
        return Request({first.name: value}, {first.name: data.get("names")}, kind)
    if "strData" in message:
        if len(inputs) > 1 or not _takes_text(first):
            raise InvalidInput("strData carries one text; this model does not take text")
        return Request({first.name: [message["strData"]]}, kind="strData")
    if "jsonData" in message:
        value = message["jsonData"]
        declared = {s.name for s in inputs}
        by_name = isinstance(value, dict) and (len(inputs) > 1 or set(value) == declared)
        if len(inputs) > 1 and not isinstance(value, dict):
            raise InvalidInput(
                f"expected jsonData to be an object of input name -> value for the inputs "
                f"{sorted(declared)}"
            )
        return Request(dict(value) if by_name else {first.name: value}, kind="jsonData")
    kinds = [k for k in message if k != "meta"]
    raise InvalidInput(f"this model does not take {', '.join(kinds) or 'an empty message'}")


def _takes_text(spec: Spec) -> bool:
    return isinstance(spec, TextSpec) or (isinstance(spec, TensorSpec) and spec.dtype == "string")


def answer_data(outputs: Mapping[str, np.ndarray], specs: Sequence[TensorSpec], kind: str) -> dict:
    """The part of the answer that carries the outputs (``data`` or ``jsonData``)."""
    if len(specs) > 1:
        return {"jsonData": {s.name: to_wire(np.asarray(outputs[s.name])).tolist() for s in specs}}
    (spec,) = specs
    output = to_wire(np.asarray(outputs[spec.name]))
    if kind == "tensor":
        payload: Any = {"values": output.ravel().tolist(), "shape": list(output.shape)}
    elif kind == "tftensor":
        from seldon_core.utils import array_to_rest_datadef

        return {"data": array_to_rest_datadef("tftensor", output, spec.columns)}
    else:
        kind, payload = "ndarray", output.tolist()
    return {"data": {"names": spec.columns, kind: payload}}
