"""Keras network: measurements and history in, risk and progression out, on scikit-learn's diabetes
data set.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import TFModel


class MyModel(TFModel):
    default_model_dir = Path(__file__).resolve().parent
