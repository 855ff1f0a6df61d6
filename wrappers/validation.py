"""Checks a request's features against the model's declared input before any model code runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wrappers.errors import InvalidInput
from wrappers.manifest import InputSpec


def validate_input(
    X: object, names: Sequence[str] | None, spec: InputSpec, max_rows: int | None = None
) -> np.ndarray:
    """Returns ``X`` as a 2-D array of the model's dtype with columns in the model's order.

    Raises ``InvalidInput`` (HTTP 400) naming what was expected and what arrived.
    """
    array = _as_numeric(X, spec)
    if array.ndim != 2:
        raise InvalidInput(
            f"expected a 2-D batch of shape [rows, {spec.width}], got an array of rank "
            f"{array.ndim} with shape {list(array.shape)}"
        )
    rows, columns = array.shape
    if rows == 0:
        raise InvalidInput(f"expected at least one row of {spec.width} features, got none")
    if max_rows is not None and rows > max_rows:
        raise InvalidInput(f"batch of {rows} rows exceeds the limit of {max_rows} rows")
    if columns != spec.width:
        raise InvalidInput(
            f"expected {spec.width} features per row ({', '.join(spec.names)}), got {columns}"
        )
    if names:
        array = _reorder_by_name(array, list(names), spec)
    if not spec.allow_nan and not np.isfinite(array).all():
        raise InvalidInput("inputs contain NaN or Infinity; this model accepts finite numbers only")
    return array


_ALL_NUMBERS = object()


def rectangular(values: object, where: str = "the batch") -> np.ndarray:
    """``values`` as a numpy array; ragged nested lists are the client's fault, not a crash."""
    try:
        return np.asarray(values)
    except (ValueError, RecursionError) as exc:  # ragged or absurdly deep nested lists
        raise InvalidInput(
            f"expected {where} to be a rectangular array of numbers (every row the same "
            f"length): {exc}"
        ) from exc


def _as_numeric(X: object, spec: InputSpec) -> np.ndarray:
    array = rectangular(X)
    if array.dtype.kind in "iuf":
        return _cast(array, spec)
    if array.dtype.kind == "O":
        bad = next((v for v in array.flat if not _is_number(v)), _ALL_NUMBERS)
        if bad is _ALL_NUMBERS:
            return _cast(array, spec)
        raise InvalidInput(
            f"expected numbers ({spec.dtype}), got a value of type {type(bad).__name__}: {bad!r}"
        )
    found = "booleans" if array.dtype.kind == "b" else f"values of dtype {array.dtype}"
    sample = array.ravel()[0] if array.size else None
    raise InvalidInput(f"expected numbers ({spec.dtype}), got {found} such as {sample!r}")


def _cast(array: np.ndarray, spec: InputSpec) -> np.ndarray:
    with np.errstate(over="ignore"):  # out-of-range values become inf and are refused below
        try:
            return array.astype(spec.dtype, copy=False)
        except (OverflowError, TypeError, ValueError) as exc:
            raise InvalidInput(f"values do not fit {spec.dtype}: {exc}") from exc


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _reorder_by_name(array: np.ndarray, names: list[str], spec: InputSpec) -> np.ndarray:
    if names == spec.names:
        return array
    if len(names) != spec.width or set(names) != set(spec.names):
        missing = [n for n in spec.names if n not in names]
        unexpected = [n for n in names if n not in spec.names]
        raise InvalidInput(
            f"feature names do not match the model's: missing {missing}, unexpected {unexpected}"
        )
    return array[:, [names.index(n) for n in spec.names]]
