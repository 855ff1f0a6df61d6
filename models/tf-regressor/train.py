"""Trains a one-hidden-layer Keras regressor on the diabetes data and exports a SavedModel.

Keras 3 cannot ``model.save("saved_model")``; ``model.export`` writes the TF-Serving layout
``saved_model/<version>/`` whose serving function the wrapper calls directly.
"""

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click
import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from modelrepo.modeldir.builder import build_manifest
from wrappers.contract import TensorSpec

SEED = 0
VERSION = "1"


@click.command()
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path(__file__).parent
)
@click.option("--epochs", default=100, show_default=True)
def main(out: Path, epochs: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data.astype(np.float32),
        data.target.astype(np.float32),
        test_size=0.2,
        random_state=SEED,
    )
    inputs = keras.Input(shape=(10,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    scaled = keras.layers.Dense(1)(hidden)
    # learn a standardised target; the layer maps it back to disease-progression units
    mean, std = float(y_train.mean()), float(y_train.std())
    outputs = keras.layers.Rescaling(scale=std, offset=mean, name="progression")(scaled)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mean_squared_error")
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0, shuffle=True)

    export_root = out / "saved_model"
    shutil.rmtree(export_root / VERSION, ignore_errors=True)
    model.export(str(export_root / VERSION), verbose=False)

    sample = x_test[:6]
    predicted = model(x_test, training=False).numpy()
    r2 = 1 - float(np.sum((predicted[:, 0] - y_test) ** 2) / np.sum((y_test - y_test.mean()) ** 2))
    build_manifest(
        out,
        name="tf-regressor",
        version=VERSION,
        description="Keras network (10 -> 16 relu -> 1) on scikit-learn's diabetes data set.",
        framework="tensorflow",
        artifacts=[f"saved_model/{VERSION}"],
        inputs=[
            TensorSpec(
                name="features", names=list(data.feature_names), dtype="float32", shape=[-1, 10]
            )
        ],
        outputs=[
            TensorSpec(name="output_0", names=["progression"], dtype="float32", shape=[-1, 1])
        ],
        sample={"features": sample},
        sample_output={"output_0": model(sample, training=False).numpy()},
        tolerance=1e-4,
        options={"saved_model": "saved_model", "signature": "serving_default"},
    ).write(out)
    click.echo(f"tf-regressor written to {out} (test R^2 {r2:.3f})")


if __name__ == "__main__":
    main()
