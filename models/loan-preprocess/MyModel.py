"""loan-pipeline's preprocessing as a TRANSFORMER: impute + scale, one-hot, passthrough, to the
matrix loan-classifier takes.

Serve it from this directory: `seldon-core-microservice MyModel --service-type TRANSFORMER`.
"""

from pathlib import Path

from wrappers import SklearnModel


class MyModel(SklearnModel):
    default_model_dir = Path(__file__).resolve().parent
