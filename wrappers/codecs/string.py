"""Texts: one string (``strData``), a list of strings, or rows of one string each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wrappers.contract.text import TextSpec
from wrappers.errors import InvalidInput, excerpt


def decode(spec: TextSpec, value: Any, names: Sequence[str] | None = None) -> list[Any]:
    if names and list(names) != [spec.name]:
        raise InvalidInput(
            f"{spec.name}: a text has one column, {spec.name!r}; got {excerpt(list(names))}"
        )
    if isinstance(value, str):
        return [value]
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list):
        raise InvalidInput(
            f"{spec.name}: expected a string or a list of strings, got {type(value).__name__}"
        )
    return [_one(spec, row, i) for i, row in enumerate(value)]


def _one(spec: TextSpec, row: Any, index: int) -> Any:
    if isinstance(row, list):
        if len(row) != 1:
            raise InvalidInput(
                f"{spec.name}: row {index} has {len(row)} values; a text row holds one string"
            )
        return row[0]
    return row


def encode(texts: list[str]) -> list[str]:
    return list(texts)
