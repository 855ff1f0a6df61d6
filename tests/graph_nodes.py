"""Seldon user classes as a user writes them, one per Seldon type, for graphs under test.

Plain classes with Seldon's method names, served by ``seldon-core-microservice`` from a model
directory whose ``MyModel.py`` subclasses one of them with its own attributes. Each adds tags
and a metric, so that how a graph carries and merges them shows, and records the feedback it
receives beside itself (``feedback.jsonl`` in its working directory, the model directory).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

FEEDBACK_FILE = "feedback.jsonl"


class Node:
    label = "node"

    def tags(self) -> dict[str, Any]:
        return {self.label: True, "last": self.label}

    def metrics(self) -> list[dict[str, Any]]:
        return [{"type": "COUNTER", "key": "calls", "value": 1, "tags": {"node": self.label}}]

    def send_feedback(self, features, feature_names, reward, truth, routing=None) -> list:
        record = {
            "node": os.environ.get("PREDICTIVE_UNIT_ID"),
            "reward": reward,
            "routing": routing,
        }
        with open(FEEDBACK_FILE, "a") as log:
            log.write(json.dumps(record) + "\n")
        return []


class Scale(Node):
    """TRANSFORMER: every feature times ``factor``."""

    factor = 2.0

    def transform_input(self, X, features_names=None):
        return np.asarray(X, dtype=float) * self.factor


class Linear(Node):
    """MODEL: the sum of the features, weighted, plus a bias; one column."""

    weight = 1.0
    bias = 0.0

    def predict(self, X, features_names=None):
        X = np.asarray(X, dtype=float)
        return X.sum(axis=1, keepdims=True) * self.weight + self.bias


class Mean(Node):
    """COMBINER: the mean of the children's answers."""

    def aggregate(self, Xs, features_names_list=None):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)


class FirstValueRouter(Node):
    """ROUTER: the request's first value is the route (-1 all, -2 none, N child N)."""

    def route(self, X, features_names=None):
        return int(np.asarray(X)[0][0])


class Offset(Node):
    """OUTPUT_TRANSFORMER: the answer plus ``offset``."""

    offset = 100.0

    def transform_output(self, X, features_names=None):
        return np.asarray(X, dtype=float) + self.offset
