"""V2 tensor datatypes: their numpy dtypes, the contract's dtypes, and their wire forms.

A V2 tensor is a datatype, a shape and its elements, flat in row-major order: a JSON list
(REST; nested lists are taken too), a typed ``InferTensorContents`` field or raw little-endian
bytes (gRPC). Decoding checks only what the wire says (the element count fits the shape, the
elements fit the datatype); the model's contract is checked afterwards by its specs. A shape
given to a decoder was checked by ``wrappers.limits.check_shape``, so that it allocates no more
than the model allows.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from wrappers.contract import TensorDType
from wrappers.errors import InvalidInput, excerpt
from wrappers.limits import check_integers

#: every V2 datatype served here and the numpy dtype its elements take (BYTES: Python objects)
NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(bool),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
#: the contract's tensor dtypes as V2 datatypes (strings travel as UTF-8 BYTES)
OF_CONTRACT: dict[TensorDType, str] = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
}
#: a table column type as V2 datatype (a category takes the type of its categories)
OF_COLUMN = {"float": "FP64", "int": "INT64", "bool": "BOOL", "string": "BYTES"}
#: the ``InferTensorContents`` field of each datatype; FP16 has none and always travels raw
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def numpy_dtype(datatype: str, where: str) -> np.dtype:
    try:
        return NUMPY[datatype]
    except KeyError:
        raise InvalidInput(
            f"{where}: datatype {excerpt(repr(datatype))} is not one of {', '.join(NUMPY)}"
        ) from None


def of_array(array: np.ndarray) -> str:
    """The V2 datatype of an array (strings and other objects as BYTES)."""
    for datatype, dtype in NUMPY.items():
        if array.dtype == dtype and datatype != "BYTES":
            return datatype
    return "BYTES"


#: the JSON element types each datatype takes (a boolean is no number here, unlike in numpy)
JSON_TYPES: dict[str, tuple[set[type], str]] = {
    "BOOL": ({bool}, "true or false"),
    "BYTES": ({str}, "strings"),
    **{d: ({int}, "integers") for d in NUMPY if d.startswith(("INT", "UINT"))},
    **{d: ({int, float}, "numbers") for d in NUMPY if d.startswith("FP")},
}


def from_elements(
    datatype: str, shape: Sequence[int], data: Any, where: str, nullable: bool = False
) -> np.ndarray:
    """JSON elements (flat or nested lists) as an array of ``shape`` and the datatype's dtype.

    ``nullable`` lets ``null`` stand for a missing element (a table column's); the array is
    then of objects, and the contract's own check decides where missing values may be.
    """
    dtype = numpy_dtype(datatype, where)
    count = math.prod(shape)
    try:
        elements = np.asarray(data if isinstance(data, list) else [data], dtype=object)
    except (ValueError, RecursionError) as exc:  # absurdly deep nested lists
        raise InvalidInput(f"{where}: data is not a rectangular list: {exc}") from exc
    flat = elements.ravel().tolist()
    if len(flat) != count:
        raise InvalidInput(
            f"{where}: shape {list(shape)} holds {count} elements, data has {len(flat)}"
        )
    allowed, what = JSON_TYPES[datatype]
    found = set(map(type, flat))
    missing = nullable and type(None) in found
    wrong = found - allowed - ({type(None)} if nullable else set())
    if wrong:
        bad = next(e for e in flat if type(e) in wrong)
        raise InvalidInput(f"{where}: {datatype} data holds {what}, got {excerpt(repr(bad))}")
    if missing or datatype == "BYTES":
        out = np.empty(count, dtype=object)
        out[:] = flat
        return out.reshape(shape)
    if dtype.kind in "iu":
        check_integers(flat, dtype, where, f"{datatype} data")
    try:
        with np.errstate(over="ignore"):  # beyond FP16/FP32: infinite, refused by the contract
            return (
                np.array(flat, dtype=np.float64 if dtype.kind == "f" else dtype)
                .astype(dtype, copy=False)
                .reshape(shape)
            )
    except OverflowError as exc:  # an integer beyond float64
        raise InvalidInput(f"{where}: {datatype} data holds numbers in range: {exc}") from exc


def to_text(values: np.ndarray, where: str) -> np.ndarray:
    """BYTES elements as ``str``: bytes (gRPC) are read as UTF-8."""
    if values.dtype.kind != "O":
        return values
    out = np.empty(values.shape, dtype=object)
    flat = out.reshape(-1)
    for i, value in enumerate(values.reshape(-1).tolist()):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"{where}: BYTES element {i} is not UTF-8: {exc}") from exc
        flat[i] = value
    return out


# ---- gRPC: typed contents and raw bytes ---------------------------------------------------------


def from_contents(datatype: str, shape: Sequence[int], contents: Any, where: str) -> np.ndarray:
    """A gRPC ``InferTensorContents`` as an array (BYTES elements stay bytes)."""
    dtype = numpy_dtype(datatype, where)
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"{where}: {datatype} has no typed contents; send raw_input_contents")
    elements = list(getattr(contents, field))
    count = math.prod(shape)
    if len(elements) != count:
        raise InvalidInput(
            f"{where}: shape {list(shape)} holds {count} elements, {field} has {len(elements)}"
        )
    if datatype == "BYTES":
        out = np.empty(count, dtype=object)
        out[:] = elements
        return out.reshape(shape)
    if dtype.kind in "iu":  # int_contents carries INT8/INT16 in 32 bits
        check_integers(elements, dtype, where, f"{datatype} data")
    return np.asarray(elements, dtype=dtype).reshape(shape)


def from_raw(
    datatype: str, shape: Sequence[int], raw: bytes | memoryview, where: str
) -> np.ndarray:
    """Raw little-endian contents as an array; BYTES are 4-byte-length-prefixed elements."""
    dtype = numpy_dtype(datatype, where)
    count = math.prod(shape)
    if datatype == "BYTES":
        elements, offset = [], 0
        while offset < len(raw):
            if len(elements) == count:
                raise InvalidInput(
                    f"{where}: shape {list(shape)} holds {count} elements, raw data has more"
                )
            if offset + 4 > len(raw):
                raise InvalidInput(f"{where}: raw BYTES end inside an element's length")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise InvalidInput(f"{where}: raw BYTES element {len(elements)} is cut short")
            elements.append(bytes(raw[offset : offset + length]))
            offset += length
        if len(elements) != count:
            raise InvalidInput(
                f"{where}: shape {list(shape)} holds {count} elements, raw data has {len(elements)}"
            )
        out = np.empty(count, dtype=object)
        out[:] = elements
        return out.reshape(shape)
    wire = dtype.newbyteorder("<")
    if len(raw) != count * wire.itemsize:
        raise InvalidInput(
            f"{where}: shape {list(shape)} of {datatype} takes {count * wire.itemsize} raw bytes, "
            f"got {len(raw)}"
        )
    return np.frombuffer(raw, dtype=wire).astype(dtype).reshape(shape)


def to_raw(datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        parts = []
        for element in array.reshape(-1).tolist():
            data = element if isinstance(element, bytes) else str(element).encode("utf-8")
            parts += [struct.pack("<I", len(data)), data]
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=NUMPY[datatype].newbyteorder("<")).tobytes()


def to_contents(datatype: str, array: np.ndarray, contents: Any) -> None:
    """Fills a gRPC ``InferTensorContents`` with the array's elements."""
    flat = array.reshape(-1)
    if datatype == "BYTES":
        flat = [e if isinstance(e, bytes) else str(e).encode("utf-8") for e in flat.tolist()]
    else:
        flat = flat.tolist()
    getattr(contents, CONTENTS_FIELD[datatype]).extend(flat)
