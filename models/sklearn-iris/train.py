"""Trains the iris RandomForest and writes model.skops and manifest.json next to this file."""

from pathlib import Path

import click
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelrepo.modeldir.builder import build_manifest
from wrappers.contract import TensorSpec
from wrappers.core.formats import SKOPS_FILE, save_skops

SEED = 0


@click.command()
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path(__file__).parent
)
def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    iris = load_iris()
    labels = iris.target_names[iris.target]
    model = RandomForestClassifier(n_estimators=100, random_state=SEED).fit(iris.data, labels)
    save_skops(model, out / SKOPS_FILE)

    sample = iris.data[[0, 50, 100, 25, 75, 125, 149]]
    classes = [str(c) for c in model.classes_]
    build_manifest(
        out,
        name="sklearn-iris",
        version="1",
        description="RandomForestClassifier (100 trees) on scikit-learn's iris data set.",
        framework="sklearn",
        artifacts=[SKOPS_FILE],
        inputs=[
            TensorSpec(name="input", names=list(iris.feature_names), dtype="float64", shape=[-1, 4])
        ],
        outputs=[
            TensorSpec(
                name="predict_proba", names=classes, dtype="float64", shape=[-1, len(classes)]
            )
        ],
        sample={"input": sample},
        sample_output={"predict_proba": model.predict_proba(sample)},
        tolerance=1e-12,
        options={"classes": classes},
    ).write(out)
    accuracy = float(np.mean(model.predict(iris.data) == labels))
    click.echo(f"sklearn-iris written to {out} (training accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
