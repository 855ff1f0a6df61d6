"""The life cycle every served model shares; framework classes only load and call their model."""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from packaging.version import Version

from wrappers.batching import MicroBatcher
from wrappers.budget import Budget
from wrappers.errors import (
    InvalidInput,
    ManifestError,
    ModelFailure,
    ModelLoadError,
    ModelNotReady,
)
from wrappers.manifest import Manifest
from wrappers.settings import Settings
from wrappers.validation import validate_input

logger = logging.getLogger(__name__)


class ServedModel(ABC):
    """A Seldon Core 1.x user class backed by a model directory with a ``manifest.json``.

    ``__init__`` runs once before gunicorn forks, so it only reads the manifest. ``load()`` runs
    in every worker after the fork: it verifies the artifact, loads it and replays the golden
    pairs; until that succeeds the worker answers 503 instead of guessing.
    """

    framework: ClassVar[str]
    #: the package a user installs to get the framework, for messages
    distribution: ClassVar[str]
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
        self.budget = Budget.for_machine(workers=int(os.environ.get("GUNICORN_WORKERS", 1)))
        self._run: Callable[[np.ndarray], np.ndarray] = self._predict

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
            self.budget.limit_native_threads()
            self._load()
        except ModelLoadError:
            raise
        except Exception as exc:  # any framework error becomes one clear load failure
            raise ModelLoadError(f"{name}: cannot load {self.model_dir}: {exc}") from exc
        mismatch = self._golden_mismatch() if self.settings.verify_golden else None
        self.ready, self.problem = mismatch is None, mismatch or ""
        # batches form across a worker's threads; created here as its lock must not cross a fork
        if self.settings.microbatch_rows > 1 and self.budget.threads > 1:
            wait = self.settings.microbatch_wait_ms / 1000
            self._run = MicroBatcher(self._predict, self.settings.microbatch_rows, wait)
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
            output = self._run(batch)
        except Exception as exc:
            raise ModelFailure(
                f"model {self.manifest.name} failed on a valid input of shape "
                f"{list(batch.shape)}: {type(exc).__name__}: {exc}"
            ) from exc
        self._last.rows = len(batch)
        self._last.millis = (time.perf_counter() - started) * 1000
        return output

    def predict_raw(self, request: Any) -> dict[str, Any]:
        """Answers a REST ``ndarray``/``tensor`` request without Seldon's generic conversion.

        Seldon's generic path converts the payload, asks for class names, tags and metrics in
        separate calls and records the metrics in two round trips to its metrics process; this
        builds the same response directly and lets Seldon record the metrics in one. Anything
        else (gRPC, other payload kinds, requests that carry metrics) takes the generic path.
        """
        # imported here: these seldon_core modules import TensorFlow when it is installed
        from seldon_core.user_model import SeldonNotImplementedError
        from seldon_core.utils import get_request_path

        if not self.settings.fast_json or not isinstance(request, dict):
            raise SeldonNotImplementedError("generic path")
        data, meta = request.get("data"), request.get("meta") or {}
        if not isinstance(data, dict) or not isinstance(meta, dict) or meta.get("metrics"):
            raise SeldonNotImplementedError("generic path")
        if "tensor" in data:
            kind, features = "tensor", _tensor_features(data["tensor"])
        elif "ndarray" in data:
            kind, features = "ndarray", data["ndarray"]
        else:
            raise SeldonNotImplementedError("generic path")
        output = self.predict(features, data.get("names"))
        if kind == "tensor":
            payload: Any = {"values": output.ravel().tolist(), "shape": list(output.shape)}
        else:
            payload = output.tolist()
        answer_meta = {"tags": {**meta.get("tags", {}), **self.tags()}}
        for key, value in (
            ("metrics", self.metrics()),
            ("puid", meta.get("puid")),
            ("requestPath", {**get_request_path(), **meta.get("requestPath", {})}),
        ):
            if value:
                answer_meta[key] = value
        return {"data": {kind: payload, "names": self.class_names()}, "meta": answer_meta}

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
        """Per-request metrics of this thread's last prediction, reported once.

        The latency is a GAUGE (milliseconds), not a TIMER: Seldon keeps each worker's metrics
        in a separate process and copies all of them there and back on every request, and a
        TIMER's 50-bucket histogram made that copy cost more than the model.
        """
        rows = getattr(self._last, "rows", None)
        self._last.rows = None
        if rows is None:
            return []
        return [
            {"type": "COUNTER", "key": "modelrepo_rows_predicted", "value": rows},
            {"type": "GAUGE", "key": "modelrepo_model_latency", "value": self._last.millis},
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

    @abstractmethod
    def installed_version(self) -> str:
        """The version of the framework this process would load the artifact with."""

    def _check_framework_version(self) -> None:
        recorded = Version(self.manifest.framework_version)
        installed = Version(self.installed_version())
        if recorded.release[:2] != installed.release[:2]:
            message = (
                f"{self.manifest.name} was saved with {self.distribution} {recorded}, "
                f"but {installed} is installed; install {self.distribution}=={recorded.public}"
            )
            if self.strict_version:
                raise ModelLoadError(message)
            logger.warning(message)
        elif recorded.public != installed.public:
            logger.warning(
                "%s was saved with %s %s; %s is installed (patch difference)",
                self.manifest.name,
                self.distribution,
                recorded,
                installed,
            )

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


def _tensor_features(tensor: Any) -> np.ndarray:
    try:
        return np.asarray(tensor["values"]).reshape(tensor["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"expected a tensor with matching values and shape: {exc}") from exc
