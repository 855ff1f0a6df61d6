"""The life cycle every served model shares; framework classes only load and call their model."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from packaging.version import Version

from wrappers import codecs
from wrappers.codecs.numpy import to_wire
from wrappers.contract import Spec, TableSpec, TensorSpec, max_elements
from wrappers.core.batching import MicroBatcher
from wrappers.core.budget import Budget
from wrappers.core.combine import read_children
from wrappers.core.manifest import (
    CODE_DIR,
    MANIFEST_FILE,
    Manifest,
    artifacts_under,
    python_version,
)
from wrappers.core.signing import verified_source
from wrappers.errors import (
    InvalidInput,
    ManifestError,
    ModelFailure,
    ModelLoadError,
    ModelNotReady,
    NotServed,
)
from wrappers.settings import Settings, serve_with

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: a model call: checked inputs by name in, outputs by name out
Outputs = dict[str, np.ndarray]


@dataclass
class Request:
    """What a request asks, whatever protocol carried it: wire values by input name."""

    values: dict[str, Any]
    #: the column names a value came with (Seldon's ``data.names``), by input name
    names: dict[str, list[str] | None] = field(default_factory=dict)
    #: the payload kind, which a protocol's answer may mirror
    kind: str = "ndarray"


@dataclass(frozen=True)
class Call:
    """What the last model call of a thread did, for the protocol that reports metrics."""

    rows: int
    millis: float
    #: NaN or infinite outputs of this request, sent as null
    nonfinite: int


@dataclass(frozen=True)
class VersionDifference:
    """How the installed framework differs from the one the artifact was saved with."""

    recorded: str
    installed: str
    #: the major or minor release differs (not just the patch)
    breaking: bool
    message: str


def on_passing_thread(work: Callable[[], T]) -> T:
    """Runs ``work`` on a thread that ends with it, and returns what it returns.

    OpenMP keeps a thread pool per thread that calls it, and while more of its threads live than
    there are cores, libgomp stops spinning between parallel regions: a torch CNN loaded and
    checked on the worker's main thread then ran every call on the model thread in 35 ms
    instead of 22. Loading on a passing thread leaves no pool behind.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="load") as pool:
        return pool.submit(work).result()


class ServedModel(ABC):
    """A model directory with a ``manifest.json``, served by any protocol.

    It knows no wire format: ``infer`` takes a protocol's ``Request`` and answers arrays by
    output name. ``__init__`` runs once before gunicorn forks, so it only reads the manifest.
    ``load()`` runs in every worker after the fork: it verifies the artifact, loads it and
    replays the golden pairs; until that succeeds the worker answers 503 instead of guessing.
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
        self.settings = serve_with(Settings.resolve(parameters))
        directory = self.settings.model_dir or self.default_model_dir or Path.cwd()
        self.model_dir = Path(directory).resolve()
        #: where ``_load`` reads the artifact: a verified private copy while a signature holds
        self.source = self.model_dir
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
                f"golden answers). Add a manifest "
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
        self._run: Callable[[dict[str, Any]], Outputs] = self._predict
        #: gathers concurrent single-matrix requests into one model call (set in ``load``)
        self.batcher: MicroBatcher | None = None

    # ---- what a framework class provides ---------------------------------------------------

    @abstractmethod
    def _load(self) -> None:
        """Loads the verified artifact from ``self.model_dir``."""

    @abstractmethod
    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        """Runs the model on checked inputs; returns every served output by name."""

    def _learn(self, child: int, reward: float) -> None:
        """Learns from a reward for the request that went to ``child`` (routers that learn)."""
        raise InvalidInput(f"{self.manifest.name} does not learn from feedback")

    def _reference_predict(self, inputs: dict[str, Any]) -> Outputs:
        """The outputs the golden pairs were recorded for (the manifest's outputs)."""
        return self._predict(inputs)

    def unverified_manifest(self) -> Manifest:
        """Describes a directory without manifest.json from its artifact (``allow_unverified``).

        Frameworks whose input schema cannot be read from the artifact refuse.
        """
        raise ManifestError(
            f"a {self.framework} model directory cannot be served without {MANIFEST_FILE}, "
            f"even with allow_unverified: its artifact does not record what it needs "
            f"(for torch, the architecture and the input contract)"
        )

    def _describe_unverified(
        self,
        artifact: str,
        inputs: list[Spec],
        outputs: list[TensorSpec],
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

    @cached_property
    def max_elements(self) -> int:
        """The most elements a request may declare for one input tensor (``max_batch_rows``
        rows of the widest input): shapes over it are refused before anything is allocated."""
        return max_elements(self.manifest.inputs, self.settings.max_batch_rows)

    @property
    def outputs(self) -> list[TensorSpec]:
        """The outputs this deployment answers with (a setting may pick other ones)."""
        return self.manifest.outputs

    # ---- life cycle --------------------------------------------------------------------------

    def load(self) -> None:
        """Verifies and loads the artifact in this worker, then replays the golden pairs."""
        name = self.manifest.name
        started = time.perf_counter()
        # OpenMP's thread count set on the main thread is every later thread's default
        self.budget.limit_native_threads()
        mismatch = on_passing_thread(self._load_verified)
        self.ready, self.problem = mismatch is None, mismatch or ""
        self._batch_across_threads()
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

    def _load_verified(self) -> str | None:
        """Loads the verified artifact; what its golden pairs' replay found wrong, if anything."""
        try:
            with verified_source(self.model_dir, self.settings) as self.source:
                self._verify_artifacts()
                self._check_framework_version()
                self._import_code()
                self._load()
        except ModelLoadError:
            raise
        except Exception as exc:  # any framework error becomes one clear load failure
            raise ModelLoadError(
                f"{self.manifest.name}: cannot load {self.model_dir}: {exc}"
            ) from exc
        return self._golden_mismatch() if self.settings.verify_golden else None

    def _batch_across_threads(self) -> None:
        """Runs concurrent requests of a one-input, one-output model (a tensor of any rank or
        texts) as one call when a worker's threads or the gRPC server's (``GRPC_THREADS``) may
        hold several; created in ``load`` as its lock must not cross a fork."""
        (single, *others) = self.manifest.inputs
        outputs = self.outputs
        if (
            others
            or isinstance(single, TableSpec)
            or (isinstance(single, TensorSpec) and single.shape[0] != -1)  # a fixed batch
            or self.manifest.kind == "router"  # one route per request, not per row
            or len(outputs) != 1
            or self.settings.microbatch_rows <= 1
            or max(self.budget.threads, int(os.environ.get("GRPC_THREADS", 1))) <= 1
        ):
            return
        name, output = single.name, outputs[0].name
        batcher = self.batcher = MicroBatcher(
            lambda rows: self._predict({name: rows})[output],
            self.settings.microbatch_rows,
            self.settings.microbatch_wait_ms / 1000,
        )
        self._run = lambda inputs: {output: batcher(inputs[name])}

    def infer(self, request: Request) -> Outputs:
        """Decodes and checks the request's inputs, then runs the model on them."""
        if self.manifest.kind == "combiner":
            raise NotServed(
                f"{self.manifest.name} is a combiner: it answers its children's outputs "
                "together (Seldon's /aggregate), not one request"
            )
        self._require_ready()
        checked = codecs.read_inputs(
            self.manifest.inputs, request.values, request.names, self.settings.max_batch_rows
        )
        return self._run_checked(checked)

    def combine(self, children: list[Request]) -> Outputs:
        """A combiner's answer: each child's output checked against the contract and the
        others (``core.combine``), then the model on them side by side."""
        self._require_ready()
        checked = read_children(
            self.manifest.inputs,
            [child.values for child in children],
            [child.names for child in children],
            self.settings.max_batch_rows,
            self.manifest.options.get("children"),
        )
        return self._run_checked(checked)

    def learn(self, child: int | None, reward: float) -> None:
        """Feedback's reward for the child a request was routed to (None: not routed here).

        A router needs to know the child; other kinds take feedback without learning.
        """
        if self.manifest.kind != "router":
            return
        if child is None:
            raise InvalidInput(
                f"feedback for the router {self.manifest.name} must say which child answered: "
                "response.meta.routing holds no route under this router's name"
            )
        self._require_ready()
        self._learn(int(child), float(reward))

    def _require_ready(self) -> None:
        if not self.ready:
            raise ModelNotReady(f"{self.manifest.name} is not ready: {self.problem}")

    def _run_checked(self, checked: dict[str, Any]) -> Outputs:
        started = time.perf_counter()
        try:
            outputs = self._run(checked)
        except InvalidInput:  # a framework's own input check, said in the model's terms
            raise
        except Exception as exc:
            shapes = {k: list(np.shape(v)) for k, v in checked.items()}
            raise ModelFailure(
                f"model {self.manifest.name} failed on valid inputs of shape {shapes}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._last.rows = codecs.rows_of(next(iter(checked.values())))
        self._last.millis = (time.perf_counter() - started) * 1000
        return outputs

    def count_nonfinite(self, output: Any) -> None:
        """NaN and Infinity have no JSON token: each is sent as null and counted."""
        output = np.asarray(output)
        if output.dtype.kind != "f":
            return
        bad = int(output.size - np.count_nonzero(np.isfinite(output)))
        if bad:
            logger.warning(
                "%s produced %d NaN/Infinity outputs; they are sent as null",
                self.manifest.name,
                bad,
            )
            self._last.nonfinite = getattr(self._last, "nonfinite", 0) + bad

    def unready_reason(self) -> str | None:
        """Why readiness probes should fail now (not loaded yet, or the self-check failed)."""
        if not self.ready:
            return f"{self.manifest.name} is not ready: {self.problem}"
        return None

    def last_call(self) -> Call | None:
        """This thread's last model call, reported once (None when already reported)."""
        rows = getattr(self._last, "rows", None)
        if rows is None:
            return None
        call = Call(rows, self._last.millis, getattr(self._last, "nonfinite", 0))
        self._last.rows, self._last.nonfinite = None, 0
        return call

    def describe(self) -> dict[str, Any]:
        """What every protocol's metadata says of the model, beside its inputs and outputs."""
        m = self.manifest
        return {
            "name": m.name,
            "versions": [m.version],
            "platform": f"{m.framework}-{m.framework_version}",
        }

    def _import_code(self) -> None:
        """Puts the model's own modules (``code/``, verified with the artifacts) first on the
        import path, wherever the server was started, so the artifact can import them."""
        if not self.manifest.code:
            return
        path = str(self.source / CODE_DIR)
        if path not in sys.path:
            sys.path.insert(0, path)

    # ---- verification ------------------------------------------------------------------------

    def _verify_artifacts(self) -> None:
        copied = self.source != self.model_dir  # a verified copy of the signed directory
        if copied and self.verified and Manifest.read(self.source) != self.manifest:
            raise ModelLoadError(f"the signed {MANIFEST_FILE} is not the one this process read")
        problems = self.manifest.artifact_mismatches(self.source)
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

    def _golden_inputs(self, values: dict[str, Any]) -> dict[str, Any]:
        """A golden input as the model takes it; a combiner's holds a list, one per child."""
        m = self.manifest
        if m.kind != "combiner":
            return codecs.read_inputs(m.inputs, values)
        children = len(next(iter(values.values())))
        per_child = [{name: value[i] for name, value in values.items()} for i in range(children)]
        return read_children(m.inputs, per_child, expected=m.options.get("children"))

    def _golden_mismatch(self) -> str | None:
        """Replays each golden pair through the request path's decoding and checks."""
        m, tol = self.manifest, self.manifest.tolerance
        for i, pair in enumerate(m.golden):
            try:
                checked = self._golden_inputs(pair.input)
            except InvalidInput as exc:
                return f"golden pair {i}: its input does not fit the contract: {exc}"
            try:
                outputs = self._reference_predict(checked)
            except Exception as exc:  # the model cannot answer its own recorded request
                return f"golden pair {i}: the model raised {type(exc).__name__}: {exc}"
            for spec in m.outputs:
                actual = to_wire(np.asarray(outputs[spec.name]))
                expected = np.asarray(pair.output[spec.name], dtype=actual.dtype)
                if actual.shape != expected.shape:
                    return (
                        f"golden pair {i}: {spec.name} has shape {actual.shape}, "
                        f"expected {expected.shape}"
                    )
                if actual.dtype.kind in "fc":
                    equal = np.allclose(actual, expected, rtol=tol, atol=tol)
                else:
                    equal = np.array_equal(actual, expected)
                if not equal:
                    return (
                        f"golden pair {i}: {spec.name} {actual.tolist()} differs from "
                        f"{pair.output[spec.name]}"
                    )
        return None
