"""TensorFlow SavedModels in TF Serving's ``<dir>/<version>/`` layout (Keras 3 ``model.export``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ManifestError, ModelLoadError
from wrappers.manifest import MANIFEST_FILE, InputSpec, Manifest, TensorSpec

SAVED_MODEL = "saved_model"
SIGNATURE = "serving_default"


class TFModel(ServedModel):
    """Calls the SavedModel's serving signature directly: no Keras ``predict`` per request."""

    framework = "tensorflow"
    distribution = "tensorflow-cpu"
    module = "tensorflow"
    companions = ("ml-dtypes",)

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.serve: Any = None
        self.input_key = ""
        self.output_key = ""

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
        loaded = tf.saved_model.load(str(path))
        signature = options.get("signature", SIGNATURE)
        if signature not in loaded.signatures:
            raise ModelLoadError(
                f"{path} has no signature {signature!r}: {list(loaded.signatures)}"
            )
        serve = loaded.signatures[signature]
        _, inputs = serve.structured_input_signature
        if len(inputs) != 1:
            raise ModelLoadError(
                f"signature {signature!r} takes {len(inputs)} inputs; one expected"
            )
        self.input_key = next(iter(inputs))
        self.output_key = options.get("output") or next(iter(serve.structured_outputs))
        self._loaded, self.serve, self._tf = loaded, serve, tf  # keep the object graph alive

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        result = self.serve(**{self.input_key: self._tf.constant(batch)})[self.output_key]
        return result.numpy().reshape(len(batch), -1)


def _width(info: Any) -> int:
    dims = [d.size for d in info.tensor_shape.dim]
    if len(dims) != 2 or dims[1] < 1:
        raise ManifestError(f"{info.name}: expected a [batch, columns] tensor, got shape {dims}")
    return dims[1]
