"""XGBoost Boosters saved with ``save_model`` (``model.ubj`` or ``model.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wrappers.contract import TensorDType
from wrappers.frameworks.boosters import BoosterRuntime
from wrappers.frameworks.xgboost import describe
from wrappers.frameworks.xgboost.describe import DTYPE, load_booster


class XGBoostRuntime(BoosterRuntime):
    """Answers with ``Booster.inplace_predict`` on the feature matrix: no DMatrix is built per
    request, and the booster uses this worker's share of the cores (``nthread``)."""

    framework = "xgboost"
    distribution = "xgboost-cpu"
    module = "xgboost"
    dtype: ClassVar[TensorDType] = DTYPE
    describer = describe

    def _read(self, path: Path) -> Any:
        booster = load_booster(path)
        booster.set_param({"nthread": self.budget.intra_op_threads})
        return booster

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(matrix, validate_features=False)
