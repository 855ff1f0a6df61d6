"""A combiner's part that knows no protocol: its children's outputs checked against its
contract and against each other, laid side by side, and the built-in ways to combine them.

Every combiner's model takes, for each declared input, the children's values side by side
along the last axis (``[rows, children x columns]``): the layout a stacking estimator is fitted
on. The built-ins (mean, weighted mean, majority vote) fold it back to one child's shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wrappers import codecs
from wrappers.contract import Spec, TensorSpec
from wrappers.errors import InvalidInput

#: what a built-in combiner writes as its artifact
COMBINER_FILE = "combiner.json"
Combine = Literal["mean", "weighted", "vote"]


class CombinerConfig(BaseModel):
    """A built-in combiner: how it combines and how many children it expects."""

    model_config = ConfigDict(extra="forbid")

    combine: Combine
    children: int = Field(ge=2)
    #: one weight per child (``weighted``), normalised to sum to 1 when combining
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_fit(self) -> CombinerConfig:
        if (self.combine == "weighted") != (self.weights is not None):
            raise ValueError("weights are given for, and only for, combine: weighted")
        if self.weights is not None:
            if len(self.weights) != self.children or min(self.weights) < 0:
                raise ValueError(f"give {self.children} non-negative weights, one per child")
            if sum(self.weights) <= 0:
                raise ValueError("the weights must not all be zero")
        return self


def read_children(
    specs: Sequence[Spec],
    children: Sequence[Mapping[str, Any]],
    names: Sequence[Mapping[str, Sequence[str] | None]] | None = None,
    max_rows: int | None = None,
    expected: int | None = None,
) -> dict[str, np.ndarray]:
    """Each child's wire values decoded and checked against the contract, then against each
    other (the same column names, the same shape), and laid side by side by input name.

    Raises ``InvalidInput`` naming the child and what differs.
    """
    if expected is not None and len(children) != expected:
        raise InvalidInput(
            f"this combiner expects {expected} children's outputs, got {len(children)}"
        )
    if not children:
        raise InvalidInput("a combiner needs at least one child's output")
    given = list(names or [{}] * len(children))
    checked = []
    for i, (values, columns) in enumerate(zip(children, given, strict=True)):
        try:
            checked.append(codecs.read_inputs(specs, values, columns, max_rows))
        except InvalidInput as exc:
            raise InvalidInput(f"child {i}: {exc.message}") from exc
    _check_alike(specs, checked, given)
    return {s.name: np.concatenate([c[s.name] for c in checked], axis=-1) for s in specs}


def _check_alike(
    specs: Sequence[Spec],
    checked: Sequence[Mapping[str, Any]],
    names: Sequence[Mapping[str, Sequence[str] | None]],
) -> None:
    """Every child answers the first one's shape with the first one's column names."""
    for spec in specs:
        first_shape = np.shape(checked[0][spec.name])
        first_names = names[0].get(spec.name)
        for i in range(1, len(checked)):
            shape = np.shape(checked[i][spec.name])
            if shape != first_shape:
                raise InvalidInput(
                    f"children's outputs differ: child {i}'s {spec.name} has shape "
                    f"{list(shape)}, child 0's {list(first_shape)}"
                )
            columns = names[i].get(spec.name)
            if columns and first_names and list(columns) != list(first_names):
                raise InvalidInput(
                    f"children's outputs differ: child {i}'s {spec.name} names "
                    f"{list(columns)}, child 0's {list(first_names)}"
                )


def side_by_side(values: Sequence[np.ndarray]) -> np.ndarray:
    """The children's values as a combiner's model takes them (the inverse of ``per_child``)."""
    return np.concatenate([np.asarray(v) for v in values], axis=-1)


def per_child(value: np.ndarray, children: int) -> np.ndarray:
    """``[rows, children x columns]`` as ``[children, rows, columns]``."""
    value = np.asarray(value)
    return np.stack(np.split(value, children, axis=-1))


def combine(config: CombinerConfig, value: np.ndarray) -> np.ndarray:
    """A built-in combination of the children's values (probabilities, for ``vote``)."""
    stacked = per_child(value, config.children).astype(np.float64)
    if config.combine == "mean":
        return stacked.mean(axis=0)
    if config.combine == "weighted":
        weights = np.asarray(config.weights, dtype=np.float64)
        return np.tensordot(weights / weights.sum(), stacked, axes=1)
    votes = np.argmax(stacked, axis=-1)  # [children, rows]: each child's class per row
    columns = stacked.shape[-1]
    counts = np.stack([(votes == c).sum(axis=0) for c in range(columns)], axis=-1)
    return counts / config.children


def output_spec(config: CombinerConfig, child: TensorSpec) -> TensorSpec:
    """What a built-in answers: the child's output, as float64 (a vote: each class's share of
    the children's votes, as ``votes``)."""
    name = "votes" if config.combine == "vote" else child.name
    return child.model_copy(update={"name": name, "dtype": "float64"})
