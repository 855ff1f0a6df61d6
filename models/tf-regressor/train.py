"""Trains a one-hidden-layer Keras regressor on the diabetes data and builds this model directory
from the user's ``model.keras`` with ``modelrepo new``, which exports the TF-Serving layout
``saved_model/<version>/`` whose serving function the wrapper calls directly."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click
import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
#: gunicorn workers per replica in deployment.yaml and .s2i/environment
WORKERS = 2
EPOCHS = 100
SAMPLE_ROWS = 6
NAME = "tf-regressor"
DESCRIPTION = "Keras network (10 -> 16 relu -> 1) on scikit-learn's diabetes data set."


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
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
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0, shuffle=True)

    predicted = model(x_test, training=False).numpy()
    r2 = 1 - float(np.sum((predicted[:, 0] - y_test) ** 2) / np.sum((y_test - y_test.mean()) ** 2))
    click.echo(f"{NAME}: test R^2 {r2:.3f}", err=True)
    model.save(directory / "model.keras")
    np.save(directory / "features.npy", x_test[:SAMPLE_ROWS])
    return [
        "-f", "tensorflow",
        "-a", str(directory / "model.keras"),
        "--sample", str(directory / "features.npy"),
        "--features", ",".join(data.feature_names),
        "--outputs", "progression",
        "--workers", str(WORKERS),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
