"""TF-IDF (1-2 grams) + LogisticRegression sentiment of short product reviews.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import SklearnModel


class MyModel(SklearnModel):
    default_model_dir = Path(__file__).resolve().parent
