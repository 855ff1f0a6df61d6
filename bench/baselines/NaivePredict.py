"""A Seldon user class that calls the model once per request, as a hand-written wrapper does.

It serves the model directory named by ``BENCH_MODEL_DIR`` with nothing of the wrappers: the
network or SentenceTransformer as ``bench.heavy.peer_model`` loads it for the peer servers,
called on each request's array as Seldon hands it over.
"""

import os
from typing import Any

import numpy as np

from bench.heavy.peer_model import PeerModel


class NaivePredict:
    def __init__(self) -> None:
        self.model: PeerModel | None = None

    def load(self) -> None:
        self.model = PeerModel(os.environ["BENCH_MODEL_DIR"], int(os.environ["BENCH_THREADS"]))

    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> Any:
        assert self.model is not None
        if self.model.text:
            return self.model.predict([str(t) for t in np.asarray(X).reshape(-1)])
        return self.model.predict(X)
