"""Binary SimpleNeuralNet: `seldon-core-microservice MyModel --service-type MODEL` here."""

from pathlib import Path

from wrappers import TorchModel


class MyModel(TorchModel):
    default_model_dir = Path(__file__).resolve().parent
