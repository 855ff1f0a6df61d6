"""Seldon Core 1.x user classes for scikit-learn, TensorFlow and PyTorch model directories.

Framework libraries are imported only when a model loads, so ``from wrappers import
SklearnModel`` does not pull in TensorFlow or torch.
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
from wrappers.frameworks.sklearn.model import SklearnModel
from wrappers.frameworks.tensorflow.model import TFModel
from wrappers.frameworks.torch.model import TorchModel

WRAPPERS: dict[str, type[ServedModel]] = {
    cls.framework: cls for cls in (SklearnModel, TFModel, TorchModel)
}


def wrapper_for(framework: str) -> type[ServedModel]:
    """The user class that serves a manifest's ``framework``."""
    return WRAPPERS[framework]


__all__ = [
    "WRAPPERS",
    "InvalidInput",
    "Manifest",
    "ManifestError",
    "ModelFailure",
    "ModelLoadError",
    "ModelNotReady",
    "NotServed",
    "PayloadTooLarge",
    "ServedModel",
    "SklearnModel",
    "TFModel",
    "TorchModel",
    "wrapper_for",
]
