"""Seldon Core 1.x user classes for scikit-learn, TensorFlow, PyTorch, XGBoost, LightGBM,
sentence-transformers and built-in model directories.

Each is a framework's runtime (``wrappers.frameworks``) served through Seldon's hooks and this
server's additions (``wrappers.server.component``). Framework libraries are imported only when a
model loads, so ``from wrappers import SklearnModel`` does not pull in TensorFlow or torch.
"""

from wrappers.core.manifest import Manifest
from wrappers.core.model import ServedModel
from wrappers.errors import (
    InvalidInput,
    ManifestError,
    ModelFailure,
    ModelLoadError,
    ModelNotReady,
    NotServed,
    PayloadTooLarge,
)
from wrappers.frameworks.builtin.model import BuiltinRuntime
from wrappers.frameworks.lightgbm.model import LightGBMRuntime
from wrappers.frameworks.sentence_transformers.model import SentenceTransformerRuntime
from wrappers.frameworks.sklearn.model import SklearnRuntime
from wrappers.frameworks.tensorflow.model import TFRuntime
from wrappers.frameworks.torch.model import TorchRuntime
from wrappers.frameworks.xgboost.model import XGBoostRuntime
from wrappers.server.component import SeldonComponent


class SklearnModel(SeldonComponent, SklearnRuntime):
    """A scikit-learn model directory (``model.skops``) as a Seldon user class."""


class TFModel(SeldonComponent, TFRuntime):
    """A TensorFlow SavedModel directory as a Seldon user class."""


class TorchModel(SeldonComponent, TorchRuntime):
    """A PyTorch model directory (safetensors weights and their network) as a Seldon user class."""


class BuiltinModel(SeldonComponent, BuiltinRuntime):
    """A built-in combiner or router (``combiner.json``, ``router.json``) as a Seldon user class."""


class SentenceTransformerModel(SeldonComponent, SentenceTransformerRuntime):
    """A sentence-transformers model directory (texts in, embeddings out) as a Seldon user class."""


class XGBoostModel(SeldonComponent, XGBoostRuntime):
    """An XGBoost model directory (``model.ubj`` or ``model.json``) as a Seldon user class."""


class LightGBMModel(SeldonComponent, LightGBMRuntime):
    """A LightGBM model directory (``model.txt``) as a Seldon user class."""


WRAPPERS: dict[str, type[SeldonComponent]] = {
    cls.framework: cls
    for cls in (
        SklearnModel,
        TFModel,
        TorchModel,
        XGBoostModel,
        LightGBMModel,
        SentenceTransformerModel,
        BuiltinModel,
    )
}


def wrapper_for(framework: str) -> type[SeldonComponent]:
    """The user class that serves a manifest's ``framework``."""
    return WRAPPERS[framework]


__all__ = [
    "WRAPPERS",
    "BuiltinModel",
    "InvalidInput",
    "LightGBMModel",
    "Manifest",
    "ManifestError",
    "ModelFailure",
    "ModelLoadError",
    "ModelNotReady",
    "NotServed",
    "PayloadTooLarge",
    "SentenceTransformerModel",
    "ServedModel",
    "SklearnModel",
    "TFModel",
    "TorchModel",
    "XGBoostModel",
    "wrapper_for",
]
