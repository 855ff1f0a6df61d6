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
    request. A Booster's thread count is a parameter, not an argument, and setting it while
    another thread predicts is not safe, so a worker with more than one core keeps a second
    Booster (``nthread`` = its share) for wide batches."""

    framework = "xgboost"
    distribution = "xgboost-cpu"
    module = "xgboost"
    dtype: ClassVar[TensorDType] = DTYPE
    describer = describe
    #: the Boosters by their thread count (``_read`` makes them)
    by_threads: dict[int, Any]

    def _read(self, path: Path) -> Any:
        booster = load_booster(path)
        booster.set_param({"nthread": 1})
        self.by_threads = {1: booster}
        wide = self.budget.intra_op_threads
        if wide > 1:
            self.by_threads[wide] = booster.copy()
            self.by_threads[wide].set_param({"nthread": wide})
        return booster

    def _raw(self, matrix: np.ndarray, threads: int) -> np.ndarray:
        return self.by_threads[threads].inplace_predict(matrix, validate_features=False)
