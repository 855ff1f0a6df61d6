"""The V2 REST binary tensor extension (Triton's and KServe's ``binary_data``).

A body whose ``Inference-Header-Content-Length`` header says N is N bytes of JSON request
followed by the raw bytes of every input whose ``parameters.binary_data_size`` is given, in the
order of the inputs; each tensor's bytes are what ``raw_input_contents`` holds over gRPC
(little-endian elements; BYTES as elements each prefixed by its 4-byte little-endian length).
An answer is binary the same way for each output asked for with ``parameters.binary_data``, or,
when an output does not say, for all when the request's ``parameters.binary_data_output`` is
true. Sizes are checked against the body before anything is sliced, and a tensor's bytes against
its declared shape (``datatypes.from_raw``); the body itself is bounded by ``max_request_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from wrappers.errors import InvalidInput, excerpt
from wrappers.protocols.v2.datatypes import from_raw, to_raw

HEADER = "Inference-Header-Content-Length"
#: the media type of a body with binary tensors (Triton's)
BINARY_MEDIA_TYPE = "application/octet-stream"


def split(body: bytes, header_length: str | None) -> tuple[bytes, Binary]:
    """The JSON part of a body and the binary tensors after it (none without the header)."""
    if header_length is None:
        return body, Binary(None)
    text = header_length.strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(f"{HEADER} is a byte count, got {excerpt(repr(header_length))}")
    digits = text.lstrip("0") or "0"
    # more digits than the body's own length is over it (and never given to int())
    if len(digits) > len(str(len(body))) or int(digits) > len(body):
        raise InvalidInput(f"{HEADER} says {excerpt(text)} bytes of JSON, the body has {len(body)}")
    length = int(digits)
    return body[:length], Binary(memoryview(body)[length:])


class Binary:
    """The binary part of a body, handed out tensor by tensor in the order of the inputs."""

    def __init__(self, data: memoryview | None) -> None:
        #: None: the body is JSON alone
        self.data = data
        self.offset = 0

    def tensor(self, datatype: str, shape: Sequence[int], size: Any, where: str) -> np.ndarray:
        """The next ``size`` bytes as a tensor of ``shape`` (checked beforehand by
        ``wrappers.limits.check_shape``)."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(
                f"{where}: parameters.binary_data_size is a byte count, got {excerpt(size)}"
            )
        if self.data is None:
            raise InvalidInput(
                f"{where}: binary_data_size needs a binary body: the {HEADER} header is missing"
            )
        left = len(self.data) - self.offset
        if size > left:
            raise InvalidInput(
                f"{where}: binary_data_size is {size} bytes, only {left} bytes of binary data "
                "are left in the body"
            )
        raw = self.data[self.offset : self.offset + size]
        self.offset += size
        return from_raw(datatype, shape, raw, where)

    def finish(self) -> None:
        """Refuses binary bytes no input claimed."""
        left = 0 if self.data is None else len(self.data) - self.offset
        if left:
            raise InvalidInput(
                f"{left} bytes of binary data follow the last tensor's: the inputs' "
                "binary_data_size do not add up to the body"
            )


def wants_binary(request_parameters: dict[str, Any] | None, output: dict[str, Any] | None) -> bool:
    """Whether an output travels binary: its own ``binary_data``, else the request's
    ``binary_data_output``; JSON when neither says."""
    own = (output or {}).get("binary_data")
    chosen = own if own is not None else (request_parameters or {}).get("binary_data_output")
    if chosen is None:
        return False
    if not isinstance(chosen, bool):
        raise InvalidInput(
            f"binary_data and binary_data_output are true or false, got {excerpt(chosen)}"
        )
    return chosen


def encode(
    body: dict[str, Any], binary: Sequence[tuple[dict[str, Any], str, np.ndarray]]
) -> tuple[bytes, int | None]:
    """``body`` as JSON followed by each ``(output, datatype, array)`` in ``binary`` as raw
    bytes, each output's entry given its ``binary_data_size``; and the JSON's length (None when
    nothing is binary: the body is plain JSON)."""
    parts = []
    for output, datatype, array in binary:
        raw = to_raw(datatype, array)
        output.setdefault("parameters", {})["binary_data_size"] = len(raw)
        parts.append(raw)
    header = json.dumps(body, allow_nan=False, separators=(",", ":"), sort_keys=True).encode()
    if not parts:
        return header, None
    return b"".join([header, *parts]), len(header)
