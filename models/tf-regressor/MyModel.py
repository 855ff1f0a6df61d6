"""Diabetes progression regressor: `seldon-core-microservice MyModel --service-type MODEL` here."""

from pathlib import Path

from wrappers import TFModel


class MyModel(TFModel):
    default_model_dir = Path(__file__).resolve().parent
