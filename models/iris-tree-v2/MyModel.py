"""DecisionTreeClassifier (depth 4) on scikit-learn's iris data set.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import SklearnModel


class MyModel(SklearnModel):
    default_model_dir = Path(__file__).resolve().parent
