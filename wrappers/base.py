"""The life cycle every served model shares; framework classes only load and call their model."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from flask import Blueprint
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
from wrappers.manifest import (
    MANIFEST_FILE,
    InputSpec,
    Manifest,
    TensorSpec,
    artifacts_under,
    python_version,
)
from wrappers.payload import check_feedback, check_message, check_proto
from wrappers.rest import error_blueprint
from wrappers.settings import Settings
from wrappers.validation import validate_input

if TYPE_CHECKING:  # seldon_core.proto imports TensorFlow when it is installed
    from seldon_core.proto import prediction_pb2

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
        self.verified = (self.model_dir / MANIFEST_FILE).is_file()
        if self.verified:
            self.manifest = Manifest.read(self.model_dir)
        elif self.settings.allow_unverified:
            self.manifest = self.unverified_manifest()
            logger.warning(
                "serving %s UNVERIFIED: no %s, so no artifact hash, framework version or "
                "golden-pair check; the schema was read from the artifact (allow_unverified)",
                self.model_dir,
                MANIFEST_FILE,
            )
        else:
            raise ManifestError(
                f"no {MANIFEST_FILE} in {self.model_dir}: refusing to load an artifact that "
                f"nothing vouches for (the manifest records its sha256, framework version and "
                f"golden answers; joblib and pickle run code on load). Add a manifest "
                f"(each model's train.py writes one) or, to serve it anyway, set the parameter "
                f"allow_unverified=true or MODELREPO_ALLOW_UNVERIFIED=1"
            )
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

    def unverified_manifest(self) -> Manifest:
        """Describes a directory without manifest.json from its artifact (``allow_unverified``).

        Frameworks whose input schema cannot be read from the artifact refuse.
        """
        raise ManifestError(
            f"a {self.framework} model directory cannot be served without {MANIFEST_FILE}, "
            f"even with allow_unverified: its artifact does not record what it needs "
            f"(for torch, the architecture and the input schema)"
        )

    def _describe_unverified(
        self,
        artifact: str,
        inputs: InputSpec,
        outputs: TensorSpec,
        version: str = "1",
        **options: Any,
    ) -> Manifest:
        """A manifest made at startup: hashes let workers load the very bytes inspected here."""
        return Manifest(
            name=self.model_dir.name,
            version=version,
            description=f"UNVERIFIED: {self.model_dir} has no {MANIFEST_FILE}",
            framework=self.framework,  # type: ignore[arg-type]
            framework_version=self.installed_version(),
            python_version=python_version(),
            artifacts=artifacts_under(self.model_dir, artifact),
            inputs=inputs,
            outputs=outputs,
            options=options,
        )

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
        elif not self.verified:
            logger.warning("%s is serving UNVERIFIED in pid %d", name, os.getpid())
        else:
            logger.info(
                "%s %s ready in pid %d after %.2fs",
                name,
                self.manifest.version,
                os.getpid(),
                time.perf_counter() - started,
            )

    @cached_property
    def model_error_handler(self) -> Blueprint:
        """Seldon registers this blueprint on its REST app: body limit, JSON and HTTP errors."""
        return error_blueprint(self.manifest.name, self.settings.max_request_bytes)

    def predict_raw(self, request: Any) -> Any:
        """Checks the request's envelope before Seldon converts it; answers REST
        ``ndarray``/``tensor`` requests directly.

        Seldon calls ``predict_raw`` first for REST (a dict) and gRPC (a ``SeldonMessage``);
        ``SeldonNotImplementedError`` is its signal to continue with its own conversion and
        ``predict``, which then cannot fail on a ragged or malformed payload.
        """
        from seldon_core.proto.prediction_pb2 import SeldonMessage
        from seldon_core.user_model import SeldonNotImplementedError

        answer = None
        if isinstance(request, SeldonMessage):
            check_proto(request)
        elif isinstance(request, dict | list):
            answer = self._answer_json(request, check_message(request))
        if answer is None:
            raise SeldonNotImplementedError("continue with Seldon's conversion and predict()")
        return answer

    def send_feedback_raw(self, feedback: prediction_pb2.Feedback) -> Any:
        """Feedback is accepted and ignored; only its arrays are checked so Seldon can read them."""
        from seldon_core.user_model import SeldonNotImplementedError

        check_feedback(feedback)
        raise SeldonNotImplementedError("continue with Seldon's default feedback handling")

    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> np.ndarray:
        """Validated input in, the model's output as Seldon will serialise it out.

        Raises ``InvalidInput`` (400) for a request that does not fit the declared input,
        ``ModelNotReady`` (503) before a successful self-check, ``ModelFailure`` (500) when the
        model itself raises.
        """
        if not self.ready:
            raise ModelNotReady(f"{self.manifest.name} is not ready: {self.problem}")
        batch = validate_input(
            X, features_names, self.manifest.inputs, self.settings.max_batch_rows
        )
        started = time.perf_counter()
        try:
            output = self._run(batch)
        except InvalidInput:  # a framework's own input check, said in the model's terms
            raise
        except Exception as exc:
            raise ModelFailure(
                f"model {self.manifest.name} failed on a valid input of shape "
                f"{list(batch.shape)}: {type(exc).__name__}: {exc}"
            ) from exc
        self._last.rows = len(batch)
        self._last.millis = (time.perf_counter() - started) * 1000
        return self._encode_output(output)

    def _encode_output(self, output: np.ndarray) -> np.ndarray:
        """The one place where model output becomes what Seldon serialises (JSON and gRPC).

        Narrow floats (float32/float16) become the float64 of their shortest decimal, so 0.1f
        is sent as 0.1, not 0.10000000149011612. NaN and Infinity have no JSON token: each is
        sent as null (None) and counted, so the rest of the batch still arrives.
        """
        output = np.asarray(output)
        if output.dtype.kind != "f":
            return output
        if output.dtype.itemsize < 8:
            shortest = map(float, map(str, output.ravel()))
            output = np.fromiter(shortest, np.float64, output.size).reshape(output.shape)
        finite = np.isfinite(output)
        if finite.all():
            return output
        bad = int(output.size - np.count_nonzero(finite))
        logger.warning(
            "%s produced %d NaN/Infinity outputs; they are sent as null", self.manifest.name, bad
        )
        self._last.nonfinite = bad
        encoded = output.astype(object)
        encoded[~finite] = None
        return encoded

    def _answer_json(self, request: Any, ndarray: np.ndarray | None) -> dict[str, Any] | None:
        """Answers a REST ``ndarray``/``tensor`` request without Seldon's generic conversion.

        Seldon's generic path converts the payload and its answer between lists and numpy and
        asks for class names, tags and metrics in separate calls; this builds the same response
        directly from ``ndarray`` (the array ``check_message`` built) or the tensor. ``None``
        for anything else (other payload kinds, requests that carry metrics): the generic path.
        """
        # imported here: this seldon_core module imports TensorFlow when it is installed
        from seldon_core.utils import get_request_path

        if not self.settings.fast_json or not isinstance(request, dict):
            return None
        data, meta = request.get("data"), request.get("meta") or {}
        if not isinstance(data, dict) or not isinstance(meta, dict) or meta.get("metrics"):
            return None
        if "tensor" in data:
            kind, features = "tensor", _tensor_features(data["tensor"])
        elif "ndarray" in data:
            kind, features = "ndarray", ndarray
        else:
            return None
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
                "verified": str(self.verified).lower(),
            },
        }

    def class_names(self) -> list[str]:
        return list(self.output_names)

    def tags(self) -> dict[str, str]:
        return {"model_name": self.manifest.name, "model_version": self.manifest.version}

    def metrics(self) -> list[dict[str, Any]]:
        """Per-request metrics of this thread's last prediction, reported once.

        The latency is a GAUGE (milliseconds), not a TIMER: a TIMER's 50-bucket histogram is
        merged on every request and copied whole to Seldon's metrics process, which cost more
        than the model (``wrappers.worker_metrics`` says how the copying is kept cheap).
        """
        rows = getattr(self._last, "rows", None)
        nonfinite = getattr(self._last, "nonfinite", 0)
        self._last.rows, self._last.nonfinite = None, 0
        if rows is None:
            return []
        metrics = [
            {"type": "COUNTER", "key": "modelrepo_rows_predicted", "value": rows},
            {"type": "GAUGE", "key": "modelrepo_model_latency", "value": self._last.millis},
        ]
        if nonfinite:
            metrics.append(
                {"type": "COUNTER", "key": "modelrepo_nonfinite_outputs", "value": nonfinite}
            )
        return metrics

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
        wanted = f"{self.distribution}=={recorded.public}"
        try:
            installed = Version(self.installed_version())
        except ImportError as exc:
            raise ModelLoadError(
                f"{self.manifest.name} needs {self.distribution}, which is not installed; "
                f"install {wanted}"
            ) from exc
        if recorded.public == installed.public:
            return None
        saved = f"{self.manifest.name} was saved with {self.distribution} {recorded}"
        breaking = recorded.release[:2] != installed.release[:2]
        if breaking:
            message = f"{saved}, but {installed} is installed; install {wanted}"
        else:
            message = (
                f"{saved}; {installed} is installed (patch difference; install {wanted} to "
                "match exactly)"
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


def _tensor_features(tensor: Any) -> np.ndarray:
    try:
        return np.asarray(tensor["values"]).reshape(tensor["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"expected a tensor with matching values and shape: {exc}") from exc
