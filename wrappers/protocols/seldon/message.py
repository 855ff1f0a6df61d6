"""Seldon's message: a checked payload to wire values by input name, and outputs to its answer.

Requests: ``data.ndarray`` (numbers, strings or mixed rows; ``data.names`` give the columns),
``data.tensor``, ``data.tftensor``, ``jsonData`` (a table as records or columns, a text batch,
or an object of input name -> value for several inputs) and ``strData`` (one text).
Answers: one output as ``data.ndarray`` (or ``data.tensor`` when asked so) with the output's
column names; several outputs as ``jsonData`` ``{output name: nested list}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wrappers.codecs.numpy import from_tensor, to_wire
from wrappers.contract import Spec, TensorSpec, takes_text
from wrappers.core.model import Request
from wrappers.errors import InvalidInput
from wrappers.protocols.seldon.envelope import DATA_KINDS, Envelope


def read_request(envelope: Envelope, inputs: Sequence[Spec]) -> Request:
    """The inputs a checked message carries (``envelope.check_message`` found its payload)."""
    first, kind, value = inputs[0], envelope.kind, envelope.value
    if kind in DATA_KINDS:
        if len(inputs) > 1:
            raise InvalidInput(
                f"this model takes the inputs {[s.name for s in inputs]}: send jsonData "
                f"{{{', '.join(f'{s.name!r}: ...' for s in inputs)}}}"
            )
        numeric = isinstance(first, TensorSpec) and first.dtype != "string"
        if kind == "ndarray" and numeric:
            value = envelope.array
        elif kind == "tensor":
            value = from_tensor(value)
        return Request({first.name: value}, {first.name: envelope.names}, kind)
    if kind == "strData":
        if len(inputs) > 1 or not takes_text(first):
            raise InvalidInput("strData carries one text; this model does not take text")
        return Request({first.name: [value]}, kind="strData")
    declared = {s.name for s in inputs}
    by_name = isinstance(value, dict) and (len(inputs) > 1 or set(value) == declared)
    if len(inputs) > 1 and not isinstance(value, dict):
        raise InvalidInput(
            f"expected jsonData to be an object of input name -> value for the inputs "
            f"{sorted(declared)}"
        )
    return Request(dict(value) if by_name else {first.name: value}, kind="jsonData")


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
