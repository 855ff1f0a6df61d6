"""TensorFlow SavedModels in TF Serving's ``<dir>/<version>/`` layout (Keras 3 ``model.export``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ManifestError, ModelLoadError
from wrappers.manifest import MANIFEST_FILE, InputSpec, Manifest, TensorSpec

SAVED_MODEL = "saved_model"
SIGNATURE = "serving_default"


class TFModel(ServedModel):
    """Runs the SavedModel's serving signature: no Keras ``predict`` per request.

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
        """``saved_model/<version>/`` alone (the highest version): the schema is read from the
        serving signature in ``saved_model.pb``, without loading the graph before the fork."""
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        root = self.model_dir / SAVED_MODEL
        versions = sorted(int(p.name) for p in root.glob("*") if p.name.isdigit())
        if not versions:
            raise ManifestError(
                f"no {MANIFEST_FILE} and no {SAVED_MODEL}/<version>/ in {self.model_dir}"
            )
        version = str(versions[-1])
        saved = saved_model_pb2.SavedModel.FromString(
            (root / version / "saved_model.pb").read_bytes()
        )
        signature = saved.meta_graphs[0].signature_def.get(SIGNATURE)
        if signature is None or len(signature.inputs) != 1 or len(signature.outputs) != 1:
            raise ManifestError(
                f"{root / version} needs a {MANIFEST_FILE}: only a {SIGNATURE!r} signature with "
                f"one input and one output can be described from the SavedModel alone"
            )
        ((input_key, input_info),) = signature.inputs.items()
        ((output_key, output_info),) = signature.outputs.items()
        width, out_width = (_width(info) for info in (input_info, output_info))
        inputs = InputSpec(
            names=[f"{input_key}_{i}" for i in range(width)],
            dtype=tf.dtypes.as_dtype(input_info.dtype).name,
            shape=[-1, width],
        )
        outputs = TensorSpec(
            names=[output_key]
            if out_width == 1
            else [f"{output_key}_{i}" for i in range(out_width)],
            dtype=tf.dtypes.as_dtype(output_info.dtype).name,
            shape=[-1, out_width],
        )
        return self._describe_unverified(
            f"{SAVED_MODEL}/{version}",
            inputs,
            outputs,
            version=version,
            saved_model=SAVED_MODEL,
            signature=SIGNATURE,
            output=output_key,
        )

    def _load(self) -> None:
        import tensorflow as tf

        options = self.manifest.options
        path = self.model_dir / options.get("saved_model", SAVED_MODEL) / self.manifest.version
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


def _width(info: Any) -> int:
    dims = [d.size for d in info.tensor_shape.dim]
    if len(dims) != 2 or dims[1] < 1:
        raise ManifestError(f"{info.name}: expected a [batch, columns] tensor, got shape {dims}")
    return dims[1]
