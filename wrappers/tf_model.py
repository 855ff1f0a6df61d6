"""TensorFlow SavedModels in TF Serving's ``<dir>/<version>/`` layout (Keras 3 ``model.export``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ModelLoadError


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

    def _load(self) -> None:
        import tensorflow as tf

        options = self.manifest.options
        path = self.model_dir / options.get("saved_model", "saved_model") / self.manifest.version
        loaded = tf.saved_model.load(str(path))
        signature = options.get("signature", "serving_default")
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
