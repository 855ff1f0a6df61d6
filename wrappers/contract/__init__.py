"""The typed contract of a model: named inputs and outputs, each a tensor, a table or a text.

A codec turns a wire value into the spec's Python value (an array, a DataFrame, a list of
strings); the spec's ``check`` then holds it to the contract before any model code runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from wrappers.contract.table import Column, TableSpec
from wrappers.contract.tensor import TensorDType, TensorSpec
from wrappers.contract.text import TextSpec

Spec = Annotated[TensorSpec | TableSpec | TextSpec, Field(discriminator="kind")]


__all__ = [
    "Column",
    "Spec",
    "TableSpec",
    "TensorDType",
    "TensorSpec",
    "TextSpec",
]
