"""Trains the iris RandomForest and builds this model directory from it with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import click
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
#: gunicorn workers per replica in deployment.yaml and .s2i/environment
WORKERS = 2
NAME = "sklearn-iris"
DESCRIPTION = "RandomForestClassifier (100 trees) on scikit-learn's iris data set."
#: two flowers of each species and the last one: the golden inputs
SAMPLE_ROWS = [0, 50, 100, 25, 75, 125, 149]
#: a forest's probabilities are sums of leaf fractions, reproduced exactly on any machine
TOLERANCE = "1e-12"


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    iris = load_iris()
    labels = iris.target_names[iris.target]
    model = RandomForestClassifier(n_estimators=100, random_state=SEED).fit(iris.data, labels)
    accuracy = float(np.mean(model.predict(iris.data) == labels))
    click.echo(f"{NAME}: training accuracy {accuracy:.3f}")
    joblib.dump(model, directory / "model.joblib")
    np.save(directory / "flowers.npy", iris.data[SAMPLE_ROWS])
    return [
        "-f", "sklearn",
        "-a", str(directory / "model.joblib"),
        "--sample", str(directory / "flowers.npy"),
        "--features", ",".join(iris.feature_names),
        "--tolerance", TOLERANCE,
        "--workers", str(WORKERS),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
