"""Tensors: nested lists (``data.ndarray``, ``jsonData`` values) and ``{"shape", "values"}``;
a string column ``[N, 1]`` also from a flat batch of strings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from wrappers.contract.tensor import TensorSpec
from wrappers.errors import InvalidInput
from wrappers.limits import check_shape


def rectangular(values: object, where: str = "the batch", dtype: Any = None) -> np.ndarray:
    """``values`` as a numpy array; ragged nested lists are the client's fault, not a crash."""
    try:
        return np.asarray(values, dtype=dtype)
    except (ValueError, RecursionError) as exc:  # ragged or absurdly deep nested lists
        raise InvalidInput(
            f"expected {where} to be a rectangular array (every row the same length): {exc}"
        ) from exc


def from_tensor(tensor: Any, where: str = "data.tensor") -> np.ndarray:
    """A Seldon ``{"shape": [...], "values": [...]}`` tensor as an array of that shape.

    The values are already in memory, so they bound the shape: it may declare no more.
    """
    values = tensor.get("values")
    if not isinstance(values, list):
        raise InvalidInput(f'expected {where} to be {{"shape": [...], "values": [...]}}')
    shape = check_shape(tensor.get("shape"), f"{where}.shape", max(len(values), 1))
    if math.prod(shape) != len(values):
        raise InvalidInput(
            f"{where} has {len(values)} values, but its shape {list(shape)} needs "
            f"{math.prod(shape)}"
        )
    return rectangular(values, where).reshape(shape)


def decode(spec: TensorSpec, value: Any, names: Sequence[str] | None = None) -> np.ndarray:
    array = _decoded(spec, value)
    if takes_flat_strings(spec) and array.ndim == 1:
        return array.reshape(-1, 1)
    return array


def takes_flat_strings(spec: TensorSpec) -> bool:
    """A string tensor of shape ``[N, 1]`` (a Keras ``Input(shape=(1,), dtype="string")``) also
    takes its batch flat: a list of strings, one string (``strData``), a V2 ``[N]`` tensor."""
    return spec.dtype == "string" and spec.shape[1:] == [1]


def _decoded(spec: TensorSpec, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, str) and takes_flat_strings(spec):
        return rectangular([value], spec.name, object)
    if hasattr(value, "to_numpy"):  # a DataFrame for a matrix: its columns in order
        return value.to_numpy()
    if isinstance(value, dict) and {"shape", "values"} <= value.keys():
        return from_tensor(value, spec.name)
    if spec.rank > 1 and not isinstance(value, list):
        raise InvalidInput(
            f"{spec.name}: expected a nested list of shape {spec.shape}, got {type(value).__name__}"
        )
    # numpy would turn a number among strings into a string
    return rectangular(value, spec.name, object if spec.dtype == "string" else None)


def encode(value: Any) -> Any:
    """Nested lists; NaN and Infinity (which JSON cannot carry) as null."""
    return to_wire(np.asarray(value)).tolist()


def to_wire(output: np.ndarray) -> np.ndarray:
    """Narrow floats become the float64 of their shortest decimal, so 0.1f is sent as 0.1, not
    0.10000000149011612; NaN and Infinity become None (null)."""
    if output.dtype.kind != "f":
        return output
    if output.dtype.itemsize < 8:
        shortest = map(float, map(str, output.ravel()))
        output = np.fromiter(shortest, np.float64, output.size).reshape(output.shape)
    finite = np.isfinite(output)
    if finite.all():
        return output
    encoded = output.astype(object)
    encoded[~finite] = None
    return encoded
