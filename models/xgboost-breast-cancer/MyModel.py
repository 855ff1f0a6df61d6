"""XGBoost classifier (native UBJSON) on scikit-learn's breast cancer data: ten mean measurements
and a categorical tumour size.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import XGBoostModel


class MyModel(XGBoostModel):
    default_model_dir = Path(__file__).resolve().parent
