"""One codec per kind of spec: wire values (JSON) to the Python values a model takes, and back.

Each module decodes what a client may send for its kind and encodes what golden pairs and
answers store; the spec's ``check`` then enforces the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from wrappers.codecs import numpy, pandas, string
from wrappers.contract import Spec, TensorSpec
from wrappers.errors import InvalidInput, excerpt

REGISTRY: dict[str, ModuleType] = {"tensor": numpy, "table": pandas, "text": string}


def decode(spec: Spec, value: Any, names: Sequence[str] | None = None) -> Any:
    return REGISTRY[spec.kind].decode(spec, value, names)


def encode(spec: Spec, value: Any) -> Any:
    return REGISTRY[spec.kind].encode(value)


def read_inputs(
    specs: Sequence[Spec],
    values: Mapping[str, Any],
    names: Mapping[str, Sequence[str] | None] | None = None,
    max_rows: int | None = None,
) -> dict[str, Any]:
    """Decodes and checks every declared input; all must have one batch size.

    ``values`` are wire values by input name, ``names`` the column names a request gave with
    an input (Seldon's ``data.names``). Raises ``InvalidInput`` naming the input at fault.
    """
    declared = [s.name for s in specs]
    missing = [n for n in declared if n not in values]
    extra = [n for n in values if n not in declared]
    if missing or extra:
        raise InvalidInput(
            f"expected the inputs {declared}: missing {missing}, unexpected {excerpt(extra)}"
        )
    names = names or {}
    checked: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    for spec in specs:
        given = names.get(spec.name)
        value = decode(spec, values[spec.name], given)
        value = spec.check(value, given) if isinstance(spec, TensorSpec) else spec.check(value)
        rows = sizes[spec.name] = rows_of(value)
        if rows == 0:
            raise InvalidInput(f"{spec.name}: expected at least one row, got none")
        if max_rows is not None and rows > max_rows:
            raise InvalidInput(
                f"{spec.name}: batch of {rows} rows exceeds the limit of {max_rows} rows"
            )
        checked[spec.name] = value
    if len(set(sizes.values())) > 1:
        raise InvalidInput(f"every input needs the same number of rows, got {sizes}")
    return checked


def rows_of(value: Any) -> int:
    """The batch size of a decoded value: its first dimension."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return len(value)
    if len(shape) == 0:
        raise InvalidInput("expected a batch, got a single scalar")
    return int(shape[0])


__all__ = ["REGISTRY", "decode", "encode", "read_inputs", "rows_of"]
