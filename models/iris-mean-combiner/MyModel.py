"""The mean of two iris classifiers' probabilities per species.

Serve it from this directory: `seldon-core-microservice MyModel --service-type COMBINER`.
"""

from pathlib import Path

from wrappers import BuiltinModel


class MyModel(BuiltinModel):
    default_model_dir = Path(__file__).resolve().parent
