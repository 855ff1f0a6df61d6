"""What ``modelrepo new`` is asked to build, and how it reports its long steps."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelrepo.modeldir.deployment import DeploymentOptions

FRAMEWORKS = ("sklearn", "tensorflow", "torch", "xgboost", "lightgbm")

#: runs one long step (``with step("loading"): ...``); the CLI shows a spinner and its duration
Step = Callable[[str], AbstractContextManager[Any]]


@contextlib.contextmanager
def quiet_step(_: str) -> Iterator[None]:
    yield


@dataclass
class NewModel:
    """What ``modelrepo new`` was asked to build."""

    model_dir: Path
    framework: str
    artifact: Path
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
    deployment: DeploymentOptions = field(default_factory=DeploymentOptions)
    force: bool = False

    @property
    def model_name(self) -> str:
        return self.name or Path(self.model_dir).resolve().name
