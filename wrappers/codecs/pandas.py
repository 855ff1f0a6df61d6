"""Tables: a list of records, an object of columns, or rows with ``names`` (``data.ndarray``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from wrappers.contract.table import TableSpec
from wrappers.errors import InvalidInput, excerpt

if TYPE_CHECKING:
    import pandas as pd


def decode(spec: TableSpec, value: Any, names: Sequence[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return _from_columns(spec, value)
    if not isinstance(value, list):
        raise InvalidInput(
            f"{spec.name}: expected a table as a list of records, an object of columns or "
            f"rows with names, got {type(value).__name__}"
        )
    if value and all(isinstance(r, dict) for r in value):
        # objects throughout: pandas' inference would cast each column (an int beyond float64
        # raises), and the column's own check decides what a value may be
        return pd.DataFrame(value, dtype=object)
    if not all(isinstance(r, list) for r in value):
        raise InvalidInput(
            f"{spec.name}: expected every row to be a record (object) or a list of values"
        )
    columns = list(names) if names else spec.column_names
    ragged = next((i for i, r in enumerate(value) if len(r) != len(columns)), None)
    if ragged is not None:
        raise InvalidInput(
            f"{spec.name}: row {ragged} has {len(value[ragged])} values for the "
            f"{len(columns)} columns {excerpt(columns)}"
        )
    if len(set(columns)) != len(columns):
        raise InvalidInput(f"{spec.name}: column names repeat: {excerpt(columns)}")
    return pd.DataFrame(value, columns=columns, dtype=object)


def _from_columns(spec: TableSpec, columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    if not all(isinstance(v, list) for v in columns.values()):
        raise InvalidInput(f"{spec.name}: expected each column to be a list of values")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"{spec.name}: columns differ in length: {lengths}")
    return pd.DataFrame(columns, dtype=object)


def encode(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A list of records; missing values as null."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else _plain(v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
