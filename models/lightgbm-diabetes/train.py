"""Trains a LightGBM regressor on scikit-learn's diabetes data, with ``sex`` as a categorical
feature, saves it in LightGBM's text format and builds this model directory with
``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import click
import lightgbm
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
NAME = "lightgbm-diabetes"
DESCRIPTION = (
    "LightGBM regressor (native text model) on scikit-learn's diabetes data, in its original "
    "units, with sex as a categorical feature: disease progression after one year."
)
#: sample rows (from the data) saved for modelrepo new; one has its blood pressure left out
SAMPLE_ROWS, MISSING_IN_SAMPLE = [0, 1, 57, 133, 200, 268, 350, 441], 3


def patients() -> tuple[pd.DataFrame, pd.Series]:
    """Age, sex (a pandas category of the codes 1 and 2), BMI, blood pressure and six blood
    serum measurements; the target is a measure of disease progression after one year."""
    frame, target = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    frame["sex"] = frame["sex"].astype(np.int64).astype("category")
    return frame, target


def regressor() -> lightgbm.LGBMRegressor:
    return lightgbm.LGBMRegressor(
        n_estimators=120,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=10,
        random_state=SEED,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    features, target = patients()
    model = regressor().fit(features, target)
    r2 = float(model.score(features, target))
    click.echo(f"{NAME}: {len(features)} patients, training R² {r2:.3f}")
    model.booster_.save_model(directory / "model.txt")
    sample = features.iloc[SAMPLE_ROWS].copy()
    sample.iloc[MISSING_IN_SAMPLE, sample.columns.get_loc("bp")] = np.nan
    sample.to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "lightgbm",
        "-a", str(directory / "model.txt"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
