"""A table input: ordered, typed columns, as a scikit-learn Pipeline over a DataFrame takes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wrappers.errors import InvalidInput, excerpt
from wrappers.limits import check_integers

if TYPE_CHECKING:
    import pandas as pd

ColumnType = Literal["float", "int", "bool", "string", "category"]
Category = str | int | float | bool


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: ColumnType
    #: the values a ``category`` column may take (an encoder's ``categories_``)
    categories: list[Category] | None = None
    nullable: bool = False
    max_length: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _categories_for_categories(self) -> Column:
        if (self.type == "category") != (self.categories is not None):
            raise ValueError(f"{self.name}: categories go with type category, and only with it")
        return self

    def check(self, values: list[Any], table: str) -> np.ndarray:
        """The column's values as the dtype the model was fitted on; missing values as NaN."""
        where = f"{table}: column {self.name!r}"
        missing = [_is_missing(v) for v in values]
        if any(missing) and not self.nullable:
            row = missing.index(True)
            raise InvalidInput(f"{where} is not nullable, got null in row {row}")
        present = [v for v, m in zip(values, missing, strict=True) if not m]
        test, expected = _TESTS[self.type]
        bad = next((v for v in present if not test(v)), _NONE)
        if bad is not _NONE:
            raise InvalidInput(
                f"{where}: expected {expected}, got {type(bad).__name__} {excerpt(repr(bad))}"
            )
        if self.type == "int":  # the model was fitted on int64: a wider value would wrap
            check_integers(present, np.dtype(np.int64), where, "an int column")
        if self.type in ("string", "category"):
            long = next(
                (v for v in present if isinstance(v, str) and len(v) > self.max_length), None
            )
            if long is not None:
                raise InvalidInput(f"{where}: a value is longer than {self.max_length} characters")
        if self.categories is not None:
            known = set(self.categories)
            unknown = next((v for v in present if v not in known), _NONE)
            if unknown is not _NONE:
                raise InvalidInput(
                    f"{where}: {excerpt(repr(unknown))} is not one of the known categories "
                    f"{self.categories}"
                )
        return _as_dtype(self.type, values, missing)


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["table"] = "table"
    name: str = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TableSpec:
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: column names repeat: {names}")
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with exactly the declared columns, in order, each of its declared type."""
        import pandas as pd

        got = [str(c) for c in frame.columns]
        missing = [n for n in self.column_names if n not in got]
        extra = [n for n in got if n not in self.column_names]
        if missing or extra or len(set(got)) != len(got):
            raise InvalidInput(
                f"{self.name}: columns do not match the model's {self.column_names}: "
                f"missing {missing}, unexpected {excerpt(extra)}"
                + (", repeated names" if len(set(got)) != len(got) else "")
            )
        frame.columns = got
        checked = {c.name: c.check(frame[c.name].tolist(), self.name) for c in self.columns}
        return pd.DataFrame(checked, columns=self.column_names)


_NONE = object()


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_int(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and math.isfinite(value) and value.is_integer()


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float64
        return False


def _is_float(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


_TESTS = {
    "float": (lambda v: _is_float(v) and _is_finite(v), "a finite number"),
    "int": (_is_int, "a whole number"),
    "bool": (lambda v: isinstance(v, bool | np.bool_), "true or false"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "category": (lambda v: isinstance(v, str | int | float | bool), "a category"),
}


def _as_dtype(kind: ColumnType, values: list[Any], missing: list[bool]) -> np.ndarray:
    if kind in ("float", "int"):
        floats = np.array([math.nan if m else v for v, m in zip(values, missing, strict=True)])
        if kind == "int" and not any(missing):
            return floats.astype(np.int64)
        return floats.astype(np.float64)
    if kind == "bool" and not any(missing):
        return np.array(values, dtype=bool)
    column = np.empty(len(values), dtype=object)
    column[:] = [math.nan if m else v for v, m in zip(values, missing, strict=True)]
    return column
