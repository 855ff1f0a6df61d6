"""The life cycle every served model shares; framework classes only load and call their model."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from packaging.version import Version

from wrappers.errors import ManifestError, ModelFailure, ModelLoadError, ModelNotReady
from wrappers.manifest import Manifest
from wrappers.settings import Settings
from wrappers.validation import validate_input

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionDifference:
    """How the installed framework differs from the one the artifact was saved with."""

    recorded: str
    installed: str
    #: the major or minor release differs (not just the patch)
    breaking: bool
    message: str


class ServedModel(ABC):
    """A Seldon Core 1.x user class backed by a model directory with a ``manifest.json``.

    ``__init__`` runs once before gunicorn forks, so it only reads the manifest. ``load()`` runs
    in every worker after the fork: it verifies the artifact, loads it and replays the golden
    pairs; until that succeeds the worker answers 503 instead of guessing.
    """

    framework: ClassVar[str]
    #: the package a user installs to get the framework (pinned in requirements.txt)
    distribution: ClassVar[str]
    #: the module whose ``__version__`` counts when ``distribution`` is not installed
    module: ClassVar[str]
    #: other packages loading the artifact needs, pinned at their installed versions
    companions: ClassVar[tuple[str, ...]] = ()
    #: refuse (not just warn about) a major/minor version change of the framework
    strict_version: ClassVar[bool] = False
    #: where a ``MyModel`` subclass keeps its directory; else the parameter, env or cwd
    default_model_dir: ClassVar[Path | None] = None

    def __init__(self, **parameters: Any) -> None:
        self.settings = Settings.resolve(parameters)
        directory = self.settings.model_dir or self.default_model_dir or Path.cwd()
        self.model_dir = Path(directory).resolve()
        self.manifest = Manifest.read(self.model_dir)
        if self.manifest.framework != self.framework:
            raise ManifestError(
                f"{self.model_dir} holds a {self.manifest.framework} model, "
                f"not a {self.framework} one"
            )
        self.ready = False
        self.problem = "model not loaded yet"
        self._last = threading.local()

    # ---- what a framework class provides ---------------------------------------------------

    @abstractmethod
    def _load(self) -> None:
        """Loads the verified artifact from ``self.model_dir``."""

    @abstractmethod
    def _predict(self, batch: np.ndarray) -> np.ndarray:
        """Runs the model on a validated 2-D batch and returns a 2-D numpy array."""

    def _reference_predict(self, batch: np.ndarray) -> np.ndarray:
        """The output the golden pairs were recorded for (the manifest's default output)."""
        return self._predict(batch)

    @property
    def output_names(self) -> list[str]:
        return self.manifest.outputs.names

    # ---- Seldon hooks ----------------------------------------------------------------------

    def load(self) -> None:
        """Verifies and loads the artifact in this worker, then replays the golden pairs."""
        name = self.manifest.name
        started = time.perf_counter()
        try:
            self._verify_artifacts()
            self._check_framework_version()
            self._load()
        except ModelLoadError:
            raise
        except Exception as exc:  # any framework error becomes one clear load failure
            raise ModelLoadError(f"{name}: cannot load {self.model_dir}: {exc}") from exc
        mismatch = self._golden_mismatch() if self.settings.verify_golden else None
        self.ready, self.problem = mismatch is None, mismatch or ""
        if mismatch:
            logger.error("%s is NOT ready: %s", name, mismatch)
        else:
            logger.info(
                "%s %s ready in pid %d after %.2fs",
                name,
                self.manifest.version,
                os.getpid(),
                time.perf_counter() - started,
            )

    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> np.ndarray:
        if not self.ready:
            raise ModelNotReady(f"{self.manifest.name} is not ready: {self.problem}")
        batch = validate_input(
            X, features_names, self.manifest.inputs, self.settings.max_batch_rows
        )
        started = time.perf_counter()
        try:
            output = self._predict(batch)
        except Exception as exc:
            raise ModelFailure(
                f"model {self.manifest.name} failed on a valid input of shape "
                f"{list(batch.shape)}: {type(exc).__name__}: {exc}"
            ) from exc
        self._last.rows = len(batch)
        self._last.millis = (time.perf_counter() - started) * 1000
        return output

    def init_metadata(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": m.name,
            "versions": [m.version],
            "platform": f"{m.framework}-{m.framework_version}",
            "inputs": [
                {
                    "messagetype": "ndarray",
                    "schema": {"names": m.inputs.names, "shape": m.inputs.shape},
                }
            ],
            "outputs": [
                {
                    "messagetype": "ndarray",
                    "schema": {"names": self.output_names, "shape": m.outputs.shape},
                }
            ],
            "custom": {
                "input_dtype": m.inputs.dtype,
                "output_dtype": m.outputs.dtype,
                "accepts_nan": str(m.inputs.allow_nan).lower(),
                "python_version": m.python_version,
                "description": m.description,
            },
        }

    def class_names(self) -> list[str]:
        return list(self.output_names)

    def tags(self) -> dict[str, str]:
        return {"model_name": self.manifest.name, "model_version": self.manifest.version}

    def metrics(self) -> list[dict[str, Any]]:
        """Per-request metrics of this thread's last prediction, reported once."""
        rows = getattr(self._last, "rows", None)
        self._last.rows = None
        if rows is None:
            return []
        return [
            {"type": "COUNTER", "key": "modelrepo_rows_predicted", "value": rows},
            {"type": "TIMER", "key": "modelrepo_model_latency", "value": self._last.millis},
        ]

    def health_status(self) -> dict[str, str]:
        if not self.ready:
            raise ModelNotReady(f"{self.manifest.name} is not ready: {self.problem}")
        return {"status": "ready", "model": self.manifest.name, "version": self.manifest.version}

    # ---- verification ------------------------------------------------------------------------

    def _verify_artifacts(self) -> None:
        problems = self.manifest.artifact_mismatches(self.model_dir)
        if problems:
            joined = "; ".join(problems)
            raise ModelLoadError(f"{self.manifest.name}: refusing unverified artifacts: {joined}")

    @classmethod
    def installed_version(cls) -> str:
        """The version of the framework this process would load the artifact with.

        Read from the package metadata, so asking does not import TensorFlow or torch.
        """
        try:
            return metadata.version(cls.distribution)
        except metadata.PackageNotFoundError:
            return str(importlib.import_module(cls.module).__version__)

    def version_difference(self) -> VersionDifference | None:
        """None when the installed framework is the release the artifact was saved with."""
        recorded = Version(self.manifest.framework_version)
        installed = Version(self.installed_version())
        if recorded.public == installed.public:
            return None
        breaking = recorded.release[:2] != installed.release[:2]
        if breaking:
            message = (
                f"{self.manifest.name} was saved with {self.distribution} {recorded}, "
                f"but {installed} is installed; install {self.distribution}=={recorded.public}"
            )
        else:
            message = (
                f"{self.manifest.name} was saved with {self.distribution} {recorded}; "
                f"{installed} is installed (patch difference)"
            )
        return VersionDifference(str(recorded), str(installed), breaking, message)

    def _check_framework_version(self) -> None:
        difference = self.version_difference()
        if difference is None:
            return
        if difference.breaking and self.strict_version:
            raise ModelLoadError(difference.message)
        logger.warning(difference.message)

    def _golden_mismatch(self) -> str | None:
        spec, tol = self.manifest.inputs, self.manifest.tolerance
        for i, pair in enumerate(self.manifest.golden):
            batch = validate_input(pair.input, None, spec)
            actual = np.asarray(self._reference_predict(batch))
            expected = np.asarray(pair.output, dtype=actual.dtype)
            if actual.shape != expected.shape:
                return f"golden pair {i}: output shape {actual.shape}, expected {expected.shape}"
            if actual.dtype.kind in "fc":
                equal = np.allclose(actual, expected, rtol=tol, atol=tol)
            else:
                equal = np.array_equal(actual, expected)
            if not equal:
                return f"golden pair {i}: output {actual.tolist()} differs from {pair.output}"
        return None
