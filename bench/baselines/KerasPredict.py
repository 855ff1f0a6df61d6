"""A Seldon user class that calls Keras ``model.predict`` per request, as many wrappers do.

It serves the tf-regressor's SavedModel through a Keras layer, loaded in ``load()`` (after
gunicorn forks), and is what the repository's TFModel is measured against.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np

VERSION = "1"


class KerasPredict:
    def __init__(self, model_dir: str = "") -> None:
        self.path = Path(model_dir or os.environ["BENCH_MODEL_DIR"]) / "saved_model" / VERSION
        self.model: Any = None

    def load(self) -> None:
        import keras

        layer = keras.layers.TFSMLayer(str(self.path), call_endpoint="serving_default")
        inputs = keras.Input(shape=(10,), dtype="float32")
        self.model = keras.Model(inputs, layer(inputs))

    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> Any:
        output = self.model.predict(np.asarray(X, dtype=np.float32), verbose=0)
        return next(iter(output.values())) if isinstance(output, dict) else output
