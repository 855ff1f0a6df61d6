"""ResNet18 (seeded random weights, 1000 logits) on float32 3x224x224 images.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import TorchModel


class MyModel(TorchModel):
    default_model_dir = Path(__file__).resolve().parent
