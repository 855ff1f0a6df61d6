"""What ``modelrepo new`` is asked to build, and how it reports its long steps."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelrepo.modeldir.deployment import DeploymentOptions

FRAMEWORKS = ("sklearn", "tensorflow", "torch", "xgboost", "lightgbm", "sentence-transformers")

#: runs one long step (``with step("loading"): ...``); the CLI shows a spinner and its duration
Step = Callable[[str], AbstractContextManager[Any]]


@contextlib.contextmanager
def quiet_step(_: str) -> Iterator[None]:
    yield


@dataclass
class NewModel:
    """What ``modelrepo new`` was asked to build."""

    model_dir: Path
    framework: str | None
    artifact: Path | None
    name: str | None = None
    version: str = "1"
    description: str = ""
    features: list[str] | None = None
    n_features: int | None = None
    outputs: list[str] | None = None
    dtype: str | None = None
    sample: Path | None = None
    tolerance: float | None = None
    methods: list[str] | None = None
    module: str | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    #: ``--range``: the inclusive (minimum, maximum) of integer inputs by name (``""``: the only)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: sklearn: the user's own modules the artifact imports, and names trusted beyond the
    #: allowlist (``module.function``, ``module.Class``)
    code: list[Path] = field(default_factory=list)
    trust: list[str] = field(default_factory=list)
    deployment: DeploymentOptions = field(default_factory=DeploymentOptions)
    force: bool = False
    #: the part the directory plays in an inference graph (the manifest's ``kind``)
    kind: str = "model"
    #: a built-in combiner (mean, weighted, vote) or router (ab, epsilon-greedy, thompson)
    combine: str | None = None
    route: str | None = None
    children: int | None = None
    weights: list[float] | None = None
    epsilon: float | None = None
    seed: int = 0
    #: a child's model directory, whose contract a built-in's is made from
    like: Path | None = None

    @property
    def model_name(self) -> str:
        return self.name or Path(self.model_dir).resolve().name
