"""Trains version 1 of iris-tree, a shallow DecisionTreeClassifier on scikit-learn's iris data,
and builds this model directory with ``modelrepo new``. Version 2 (models/iris-tree-v2) is the
same model grown deeper; graphs/iris-tree-ab routes between the two."""

from __future__ import annotations

from pathlib import Path

import click
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
NAME = "iris-tree"
VERSION, DEPTH = 1, 2
DESCRIPTION = "DecisionTreeClassifier (depth {depth}) on scikit-learn's iris data set."
#: two flowers of each species and the last one: the golden inputs
SAMPLE_ROWS = [0, 50, 100, 25, 75, 125, 149]


def trainer(version: int, depth: int):
    """The `train` of one version: a tree of `depth` levels."""

    def train(directory: Path) -> list[str]:
        iris = load_iris()
        labels = iris.target_names[iris.target]
        model = DecisionTreeClassifier(max_depth=depth, random_state=SEED).fit(iris.data, labels)
        accuracy = float(np.mean(model.predict(iris.data) == labels))
        click.echo(f"{NAME} v{version}: training accuracy {accuracy:.3f}")
        joblib.dump(model, directory / "model.joblib")
        np.save(directory / "flowers.npy", iris.data[SAMPLE_ROWS])
        return [
            "-f", "sklearn",
            "-a", str(directory / "model.joblib"),
            "--sample", str(directory / "flowers.npy"),
            "--features", ",".join(iris.feature_names),
            "--version", str(version),
        ]  # fmt: skip

    return train


main = rebuild_command(
    NAME, DESCRIPTION.format(depth=DEPTH), trainer(VERSION, DEPTH), Path(__file__).parent
)

if __name__ == "__main__":
    main()
