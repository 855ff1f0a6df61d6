"""Trains an XGBoost classifier on scikit-learn's breast cancer data, with a categorical feature,
saves it in XGBoost's own UBJSON format and builds this model directory with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pandas as pd
import xgboost
from sklearn.datasets import load_breast_cancer

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
NAME = "xgboost-breast-cancer"
DESCRIPTION = (
    "XGBoost classifier (native UBJSON) on scikit-learn's breast cancer data: ten mean "
    "measurements and a categorical tumour size."
)
#: the size category cuts the worst (largest) area at these bounds
SIZES, AREA_BOUNDS = ["small", "medium", "large"], [0.0, 600.0, 1200.0, np.inf]
#: sample rows (from the data) saved for modelrepo new; one has a measurement left out
SAMPLE_ROWS, MISSING_IN_SAMPLE = [0, 19, 73, 150, 212, 300, 420, 568], 3


def tumours() -> tuple[pd.DataFrame, pd.Series]:
    """The ten ``mean`` measurements and ``size`` (a pandas category), and the diagnosis
    (0 malignant, 1 benign)."""
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    features = frame[[c for c in frame.columns if c.startswith("mean ")]].copy()
    features.columns = [c.removeprefix("mean ").replace(" ", "_") for c in features.columns]
    features["size"] = pd.cut(frame["worst area"], AREA_BOUNDS, labels=SIZES)
    return features, target


def classifier() -> xgboost.XGBClassifier:
    return xgboost.XGBClassifier(
        n_estimators=60,
        max_depth=3,
        learning_rate=0.1,
        tree_method="hist",
        enable_categorical=True,
        random_state=SEED,
        n_jobs=1,
    )


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    features, target = tumours()
    model = classifier().fit(features, target)
    accuracy = float(np.mean(model.predict(features) == target))
    click.echo(f"{NAME}: {len(features)} tumours, training accuracy {accuracy:.3f}")
    model.save_model(directory / "model.ubj")
    sample = features.iloc[SAMPLE_ROWS].copy()
    sample.iloc[MISSING_IN_SAMPLE, sample.columns.get_loc("smoothness")] = np.nan
    sample.to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "xgboost",
        "-a", str(directory / "model.ubj"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
