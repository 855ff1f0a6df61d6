"""LightGBM Boosters saved with ``save_model`` (``model.txt``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from wrappers.contract import TensorDType
from wrappers.frameworks.boosters import BoosterRuntime
from wrappers.frameworks.lightgbm import describe
from wrappers.frameworks.lightgbm.describe import DTYPE


class LightGBMRuntime(BoosterRuntime):
    """Answers with ``Booster.predict`` on the feature matrix (``num_threads`` per call)."""

    framework = "lightgbm"
    distribution = "lightgbm"
    module = "lightgbm"
    dtype: ClassVar[TensorDType] = DTYPE
    describer = describe

    def _raw(self, matrix: np.ndarray, threads: int) -> np.ndarray:
        return self.booster.predict(matrix, num_threads=threads)
