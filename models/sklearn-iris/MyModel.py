"""Iris random forest: `seldon-core-microservice MyModel --service-type MODEL` here."""

from pathlib import Path

from wrappers import SklearnModel


class MyModel(SklearnModel):
    default_model_dir = Path(__file__).resolve().parent
