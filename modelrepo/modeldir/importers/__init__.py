"""One importer per framework: each reads the user's artifact, writes the model directory's
artifact in a format that runs no code as it loads, and says what it learnt of the contract.

Every importer is ``import_artifact(request, work, step, sample) -> Imported``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wrappers.contract import Spec, TensorSpec

#: the user's model called on checked inputs by name, answering its outputs by name
Predict = Callable[[dict[str, Any]], dict[str, Any]]
#: the inclusive ``(minimum, maximum)`` of integer inputs by name, as the model bounds them
Ranges = Callable[[dict[str, Any]], dict[str, tuple[int, int]]]


@dataclass
class Imported:
    """What an importer placed and learned; ``predict`` calls the framework's model directly
    on checked inputs by name and answers outputs by name."""

    artifacts: list[str]
    predict: Predict
    kind: str
    tolerance: float
    #: the contract as the artifact states it (None: from the sample or the flags)
    inputs: list[Spec] | None = None
    outputs: list[TensorSpec] | None = None
    #: the dtype of inputs that only the sample or the flags describe
    dtype: str = "float32"
    #: feature names the model was fitted with
    names: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: the ranges the model itself imposes on integer inputs, read on the checked sample
    ranges: Ranges | None = None
    #: the one batch size the artifact takes (a program traced without a free batch)
    batch: int | None = None
    #: names beyond the allowlist that the stored artifact holds, each trusted by the user
    trusted_types: list[str] = field(default_factory=list)
    #: the user's modules copied into the directory (``code/...``)
    code: list[str] = field(default_factory=list)
    #: installed packages the artifact needs beyond the framework's, pinned
    requirements: list[str] = field(default_factory=list)
