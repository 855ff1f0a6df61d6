"""The cookbook's SimpleNeuralNet trained with torch.compile.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import TorchModel


class MyModel(TorchModel):
    default_model_dir = Path(__file__).resolve().parent
