"""DigitsCNN (two 3x3 convolutions, 10 logits) on scikit-learn's 8x8 digit images.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import TorchModel


class MyModel(TorchModel):
    default_model_dir = Path(__file__).resolve().parent
