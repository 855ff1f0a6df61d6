"""A tensor input or output: dtype and shape (any rank, -1 for a free dimension)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wrappers.errors import InvalidInput, excerpt
from wrappers.limits import check_integers

TensorDType = Literal[
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float16",
    "float32",
    "float64",
    "string",
]
NUMERIC_KINDS = "iuf"


class TensorSpec(BaseModel):
    """``names`` label the last axis (a matrix's columns, a classifier's classes)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["tensor"] = "tensor"
    name: str = Field(min_length=1)
    dtype: TensorDType
    shape: list[int] = Field(min_length=1)
    names: list[str] | None = None
    allow_nan: bool = False
    #: longest string element, for ``string`` tensors
    max_length: int = Field(default=100_000, ge=1)
    #: the values an integer tensor may hold (token ids below an embedding's size), inclusive
    minimum: int | None = None
    maximum: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TensorSpec:
        if any(d < -1 or d == 0 for d in self.shape):
            raise ValueError(f"{self.name}: dimensions are positive or -1, got {self.shape}")
        if self.names is not None and (len(self.shape) < 2 or len(self.names) != self.shape[-1]):
            raise ValueError(
                f"{self.name}: {len(self.names)} names for the last axis of shape {self.shape}"
            )
        bounded = self.minimum is not None or self.maximum is not None
        if bounded and not self.is_integer:
            raise ValueError(f"{self.name}: minimum and maximum are for integer tensors")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.name}: minimum {self.minimum} is over maximum {self.maximum}")
        return self

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_integer(self) -> bool:
        return self.dtype.startswith(("int", "uint"))

    @property
    def is_matrix(self) -> bool:
        """A batch of numeric feature rows: the shape every fast path is built for."""
        return (
            self.rank == 2
            and self.shape[0] == -1
            and self.shape[1] > 0
            and self.dtype not in ("string", "bool")
        )

    @property
    def width(self) -> int:
        return self.shape[-1]

    @property
    def columns(self) -> list[str]:
        """The names of the last axis: given, else numbered after the tensor (``[name]`` for
        one column or another rank)."""
        if self.names is not None:
            return self.names
        if self.rank == 2 and self.width > 1:
            return [f"{self.name}_{i}" for i in range(self.width)]
        return [self.name]

    def check(self, value: object, names: Sequence[str] | None = None) -> np.ndarray:
        """``value`` (an array from a codec) as this tensor's dtype, with columns in order."""
        array = np.asarray(value)
        array = self._typed(array)
        if array.ndim != self.rank:
            raise InvalidInput(
                f"{self.name}: expected a tensor of rank {self.rank} and shape "
                f"{self._shown_shape()}, got rank {array.ndim} with shape {list(array.shape)}"
            )
        self._check_dimensions(array.shape)
        if names:
            array = self._reorder(array, list(names))
        if self.minimum is not None or self.maximum is not None:
            bounds = (self.minimum, self.maximum)
            check_integers(array, array.dtype, self.name, "this input", bounds)
        if array.dtype.kind == "f" and not self.allow_nan and not np.isfinite(array).all():
            raise InvalidInput(
                f"{self.name}: inputs contain NaN or Infinity; this model accepts finite numbers "
                "only"
            )
        return array

    def _check_dimensions(self, shape: tuple[int, ...]) -> None:
        for axis, (want, got) in enumerate(zip(self.shape, shape, strict=True)):
            if want == -1 or want == got:
                continue
            if axis == 0:  # a program traced without a free batch dimension
                what = f"a fixed batch of {want} rows (shape {self._shown_shape()})"
            elif self.names and axis == self.rank - 1:
                what = f"{want} features per row ({', '.join(self.names)})"
            else:
                what = f"shape {self._shown_shape()}"
            raise InvalidInput(
                f"{self.name}: expected {what}, got {got} in dimension {axis} (shape {list(shape)})"
            )

    def _shown_shape(self) -> str:
        return "[" + ", ".join("N" if d == -1 else str(d) for d in self.shape) + "]"

    def _typed(self, array: np.ndarray) -> np.ndarray:
        if self.dtype == "string":
            return self._strings(array)
        if self.dtype == "bool":
            if array.dtype.kind == "b" or (array.dtype.kind == "O" and _all(array, _is_bool)):
                return array.astype(bool)
            raise self._wrong_type(array, "booleans (true/false)")
        target = np.dtype(self.dtype)
        try:
            if array.dtype.kind == "O" and _all(array, self._is_value):
                array = array.astype(np.float64)  # a null, where NaN is allowed, becomes NaN
            if array.dtype.kind not in NUMERIC_KINDS:
                raise self._wrong_type(array, f"numbers ({self.dtype})")
            if array.dtype == target:
                return array
            if target.kind in "iu":
                return self._integers(array, target)
            with np.errstate(over="ignore"):  # out-of-range values become inf and are refused
                return array.astype(target, copy=False)
        except OverflowError as exc:  # a JSON integer beyond any float
            raise InvalidInput(f"{self.name}: values do not fit {self.dtype}: {exc}") from exc

    def _is_value(self, value: object) -> bool:
        """A number, or JSON's null where the model takes NaN (JSON has no NaN of its own)."""
        return _is_number(value) or (value is None and self.allow_nan)

    def _integers(self, array: np.ndarray, target: np.dtype) -> np.ndarray:
        if array.dtype.kind == "f" and not (np.isfinite(array) & (array == np.round(array))).all():
            raise InvalidInput(f"{self.name}: expected whole numbers ({self.dtype})")
        check_integers(array, target, self.name)
        return array.astype(target)

    def _strings(self, array: np.ndarray) -> np.ndarray:
        if array.dtype.kind == "O" and not _all(array, lambda v: isinstance(v, str)):
            bad = next(v for v in array.flat if not isinstance(v, str))
            raise InvalidInput(
                f"{self.name}: expected strings, got a value of type {type(bad).__name__}: "
                f"{excerpt(bad)}"
            )
        if array.dtype.kind not in "OU":
            raise self._wrong_type(array, "strings")
        if array.size and max(map(len, array.flat)) > self.max_length:
            raise InvalidInput(f"{self.name}: a string is longer than {self.max_length} characters")
        if not all(map(_is_utf8, array.flat)):  # JSON can carry a lone surrogate
            raise InvalidInput(f"{self.name}: strings must be valid UTF-8 (no lone surrogates)")
        return array.astype(object)

    def _wrong_type(self, array: np.ndarray, expected: str) -> InvalidInput:
        if array.dtype.kind == "O":
            bad = next(
                (v for v in array.flat if not (_is_number(v) or isinstance(v, str))), array.flat[0]
            )
            return InvalidInput(
                f"{self.name}: expected {expected}, got a value of type {type(bad).__name__}: "
                f"{excerpt(repr(bad))}"
            )
        found = "booleans" if array.dtype.kind == "b" else f"values of dtype {array.dtype}"
        if array.dtype.kind in "US":  # the first that is no number, not one numpy made a string
            sample = next((v for v in array.flat if not _is_float_text(v)), None)
        else:
            sample = array.ravel()[0] if array.size else None
        return InvalidInput(
            f"{self.name}: expected {expected}, got {found} such as {excerpt(repr(sample))}"
        )

    def _reorder(self, array: np.ndarray, names: list[str]) -> np.ndarray:
        if self.names is None or names == self.names:
            return array
        if len(names) != len(self.names) or set(names) != set(self.names):
            missing = [n for n in self.names if n not in names]
            unexpected = [n for n in names if n not in self.names]
            raise InvalidInput(
                f"{self.name}: feature names do not match the model's: missing {missing}, "
                f"unexpected {excerpt(unexpected)}"
            )
        return array[..., [names.index(n) for n in self.names]]


def _all(array: np.ndarray, test: object) -> bool:
    return all(map(test, array.flat))  # type: ignore[arg-type]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _is_float_text(value: object) -> bool:
    """Whether a value numpy made a string of was a number (so it is not the one at fault)."""
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_bool(value: object) -> bool:
    return isinstance(value, bool | np.bool_)
