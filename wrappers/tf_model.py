"""TensorFlow SavedModels in TF Serving's ``<dir>/<version>/`` layout (Keras 3 ``model.export``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ModelLoadError


class TFModel(ServedModel):
    """Runs the SavedModel's serving signature: no Keras ``predict`` per request.

    The signature runs as a graph-mode session callable: the same serving graph that
    ``tf.saved_model.load(...).signatures[...]`` would call eagerly, at a tenth of its per-call
    dispatch cost (the cost that dominates a small model's latency).
    """

    framework = "tensorflow"
    distribution = "tensorflow-cpu"

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.serve: Any = None

    def installed_version(self) -> str:
        import tensorflow as tf

        return tf.__version__

    def _load(self) -> None:
        import tensorflow as tf

        options = self.manifest.options
        path = self.model_dir / options.get("saved_model", "saved_model") / self.manifest.version
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
        name = options.get("signature", "serving_default")
        if name not in meta_graph.signature_def:
            raise ModelLoadError(
                f"{path} has no signature {name!r}: {list(meta_graph.signature_def)}"
            )
        signature = meta_graph.signature_def[name]
        if len(signature.inputs) != 1:
            raise ModelLoadError(
                f"signature {name!r} takes {len(signature.inputs)} inputs; one expected"
            )
        output = options.get("output") or sorted(signature.outputs)[0]
        if output not in signature.outputs:
            raise ModelLoadError(f"signature {name!r} has no output {output!r}")
        (feed,) = signature.inputs.values()
        self.serve = session_callable(session, feed.name, signature.outputs[output].name)
        self._session = session  # keeps the graph and its variables alive

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.serve(batch)).reshape(len(batch), -1)


def session_callable(session: Any, feed: str, fetch: str) -> Callable[[np.ndarray], Any]:
    """The session's C-level callable for one feed and one fetch (about 30 µs a call).

    ``Session.make_callable`` with a feed list runs the generic ``Session.run`` in Python
    (about 250 µs); ``_make_callable_from_options`` is the C API's callable that Keras 2 used.
    It is not public, so a TensorFlow without it gets the public, slower callable.
    """
    from tensorflow.core.protobuf import config_pb2

    make = getattr(session, "_make_callable_from_options", None)
    if make is None:
        graph = session.graph
        generic = session.make_callable(
            graph.get_tensor_by_name(fetch), [graph.get_tensor_by_name(feed)]
        )
        return generic
    run = make(config_pb2.CallableOptions(feed=[feed], fetch=[fetch]))
    return lambda batch: run(batch)[0]
