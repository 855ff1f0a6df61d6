"""LightGBM regressor (native text model) on scikit-learn's diabetes data, in its original units,
with sex as a categorical feature: disease progression after one year.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import LightGBMModel


class MyModel(LightGBMModel):
    default_model_dir = Path(__file__).resolve().parent
