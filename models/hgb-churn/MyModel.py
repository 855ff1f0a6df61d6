"""HistGradientBoostingClassifier over categories and missing values (pandas category dtype,
categorical_features='from_dtype') on synthetic customers.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import SklearnModel


class MyModel(SklearnModel):
    default_model_dir = Path(__file__).resolve().parent
