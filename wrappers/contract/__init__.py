"""The typed contract of a model: named inputs and outputs, each a tensor, a table or a text.

A codec turns a wire value into the spec's Python value (an array, a DataFrame, a list of
strings); the spec's ``check`` then holds it to the contract before any model code runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from wrappers.contract.table import Column, TableSpec
from wrappers.contract.tensor import TensorDType, TensorSpec
from wrappers.contract.text import TextSpec

Spec = Annotated[TensorSpec | TableSpec | TextSpec, Field(discriminator="kind")]


def takes_text(spec: TensorSpec | TableSpec | TextSpec) -> bool:
    """Whether an input reads texts: a text, or a tensor of strings."""
    return isinstance(spec, TextSpec) or (isinstance(spec, TensorSpec) and spec.dtype == "string")


def max_elements(specs: Sequence[TensorSpec | TableSpec | TextSpec], max_rows: int) -> int:
    """The most elements one input tensor may hold: ``max_rows`` rows of the widest input.

    A row of a tensor holds the product of its non-batch dimensions (a free one counts as
    ``max_rows``), a table row one element per column, a text row one string.
    """
    return max_rows * max(_row_elements(s, max_rows) for s in specs)


def _row_elements(spec: TensorSpec | TableSpec | TextSpec, max_rows: int) -> int:
    if spec.kind == "tensor":
        return math.prod(max_rows if d == -1 else d for d in spec.shape[1:])
    if spec.kind == "table":
        return len(spec.columns)
    return 1


__all__ = [
    "Column",
    "Spec",
    "TableSpec",
    "TensorDType",
    "TensorSpec",
    "TextSpec",
    "max_elements",
    "takes_text",
]
