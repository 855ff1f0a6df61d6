"""TensorFlow SavedModels in TF Serving's ``<dir>/<version>/`` layout (Keras 3 ``model.export``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wrappers.contract import TensorSpec
from wrappers.core.manifest import Manifest
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import ModelLoadError
from wrappers.frameworks.tensorflow.describe import (
    SAVED_MODEL,
    SIGNATURE,
    describe,
    export_options,
    newest_version,
    texts_decoded,
)


class TFRuntime(ServedModel):
    """Runs the SavedModel's serving signature: every named input and output, any rank.

    The signature runs as a graph-mode session callable: the same serving graph that
    ``tf.saved_model.load(...).signatures[...]`` would call eagerly, at a tenth of its per-call
    dispatch cost (the cost that dominates a small model's latency).
    """

    framework = "tensorflow"
    distribution = "tensorflow-cpu"
    module = "tensorflow"
    companions = ("ml-dtypes",)

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.serve: Any = None

    def unverified_manifest(self) -> Manifest:
        """``saved_model/<version>/`` alone (the highest version): the contract is read from the
        serving signature in ``saved_model.pb``, without loading the graph before the fork."""
        version = newest_version(self.model_dir)
        inputs, outputs = describe(self.model_dir / SAVED_MODEL / version)
        return self._describe_unverified(
            f"{SAVED_MODEL}/{version}", list(inputs), outputs, version=version, **export_options()
        )

    def _load(self) -> None:
        import tensorflow as tf

        options = self.manifest.options
        path = self.source / options.get("saved_model", SAVED_MODEL) / self.manifest.version
        threads = self.budget.intra_op_threads
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=threads,
            inter_op_parallelism_threads=threads,
            use_per_session_threads=True,
        )
        graph = tf.Graph()
        session = tf.compat.v1.Session(graph=graph, config=config)
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(session, [tf.saved_model.SERVING], str(path))
        name = options.get("signature", SIGNATURE)
        if name not in meta_graph.signature_def:
            raise ModelLoadError(
                f"{path} has no signature {name!r}: {list(meta_graph.signature_def)}"
            )
        signature = meta_graph.signature_def[name]
        feeds = _tensor_names(signature.inputs, self.manifest.input_names, f"{name!r} input")
        fetches = _tensor_names(
            signature.outputs,
            [options.get("output", s.name) for s in self.manifest.outputs],
            f"{name!r} output",
        )
        self.serve = session_callable(session, feeds, fetches)
        self.feeds = self.manifest.input_names  # the callable's feed order
        self._session = session  # keeps the graph and its variables alive

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        arrays = [inputs[name] for name in self.feeds]
        results = self.serve(*arrays)
        rows = len(arrays[0])
        return {
            spec.name: _from_tf(result, spec, rows)
            for spec, result in zip(self.manifest.outputs, results, strict=True)
        }


def _tensor_names(tensors: Any, wanted: Sequence[str], what: str) -> list[str]:
    """Graph tensor names for the manifest's names; a schema-1 manifest's one generic name
    stands for the signature's one tensor."""
    if len(wanted) == 1 and len(tensors) == 1 and wanted[0] not in tensors:
        return [next(iter(tensors.values())).name]
    missing = [w for w in wanted if w not in tensors]
    if missing:
        raise ModelLoadError(f"the signature has no {what} {missing}: {sorted(tensors)}")
    return [tensors[w].name for w in wanted]


def _from_tf(result: Any, spec: TensorSpec, rows: int) -> np.ndarray:
    array = texts_decoded(np.asarray(result))
    if spec.rank == 2 and array.ndim != 2:
        array = array.reshape(rows, -1)
    return array


def session_callable(
    session: Any, feeds: list[str], fetches: list[str]
) -> Callable[..., list[Any]]:
    """The session's C-level callable for these feeds and fetches (about 30 µs a call).

    ``Session.make_callable`` with a feed list runs the generic ``Session.run`` in Python
    (about 250 µs); ``_make_callable_from_options`` is the C API's callable that Keras 2 used.
    It is not public, so a TensorFlow without it gets the public, slower callable.
    """
    from tensorflow.core.protobuf import config_pb2

    make = getattr(session, "_make_callable_from_options", None)
    if make is None:
        graph = session.graph
        generic = session.make_callable(
            [graph.get_tensor_by_name(f) for f in fetches],
            [graph.get_tensor_by_name(f) for f in feeds],
        )
        return generic
    return make(config_pb2.CallableOptions(feed=feeds, fetch=fetches))
