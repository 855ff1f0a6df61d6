"""Epsilon-greedy (0.1) between iris-tree v1 and v2, learning from feedback.

Serve it from this directory: `seldon-core-microservice MyModel --service-type ROUTER`.
"""

from pathlib import Path

from wrappers import BuiltinModel


class MyModel(BuiltinModel):
    default_model_dir = Path(__file__).resolve().parent
