"""What a request may declare before anything is allocated for it: shapes and integer ranges.

A shape travels apart from its elements (V2 tensors, Seldon's ``tensor`` and ``tftensor``), so numpy
would allocate, or fail on, whatever a client declares. Every route checks a declared shape here
first: rank at most ``MAX_RANK``, each dimension and the element count at most the model's
``max_elements`` (``wrappers.contract.max_elements``). Integers are checked against the dtype they
are cast to, so that an out-of-range value is refused instead of wrapping, and against the range an
integer tensor declares (token ids below an embedding's size), so that the model never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from wrappers.errors import InvalidInput, excerpt

#: numpy's own limit on dimensions (NPY_MAXDIMS of numpy 1.x)
MAX_RANK = 32


def check_shape(shape: Any, where: str, limit: int) -> tuple[int, ...]:
    """``shape`` as a tuple of at most ``MAX_RANK`` non-negative integers, none of them and
    not their product over ``limit``; else a 400 that says which bound it broke."""
    shown = excerpt(shape)
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) for d in shape
    ):
        raise InvalidInput(f"{where}: a shape is a list of integers, got {shown}")
    if len(shape) > MAX_RANK:
        raise InvalidInput(f"{where}: rank {len(shape)} is over the limit of {MAX_RANK}")
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise InvalidInput(f"{where}: a shape's dimensions are non-negative, got {shown}")
    if any(d > limit for d in dims):
        raise InvalidInput(
            f"{where}: shape {shown} has a dimension over the limit of {limit} elements"
        )
    count = math.prod(dims)
    if count > limit:
        raise InvalidInput(
            f"{where}: shape {shown} holds {count} elements, over the limit of {limit}"
        )
    return dims


def check_integers(
    values: Iterable[Any],
    dtype: np.dtype,
    where: str,
    what: str = "",
    bounds: tuple[int | None, int | None] = (None, None),
) -> None:
    """Refuses integers a cast to ``dtype`` would wrap (compared exactly, as Python numbers),
    and those outside ``bounds`` (a declared ``[minimum, maximum]``, None for the dtype's own);
    ``what`` names them in the message (the dtype's name by default)."""
    info = np.iinfo(dtype)
    low = info.min if bounds[0] is None else max(info.min, bounds[0])
    high = info.max if bounds[1] is None else min(info.max, bounds[1])
    bad = next((v for v in _plain(values) if not low <= v <= high), None)
    if bad is not None:
        raise InvalidInput(
            f"{where}: {what or dtype} holds integers in [{low}, {high}], got {excerpt(bad)}"
        )


def _plain(values: Iterable[Any]) -> Iterable[Any]:
    """Python numbers: numpy's comparison of a float64 with 2**63 - 1 rounds, Python's does not."""
    if isinstance(values, np.ndarray):
        if values.size == 0 or values.dtype.kind == "O":
            return values.ravel().tolist()
        return [values.min().item(), values.max().item()]
    return (v.item() if isinstance(v, np.generic) else v for v in values)
