"""Trains a two-input, two-output Keras network on the diabetes data and builds this directory
with ``modelrepo new`` from the user's ``model.keras`` and ``sample.npz``.

``measurements`` are eight float32 clinical measurements (bmi, bp, s1 … s6, in their original
units); ``history`` is an int32 pair (age in years, sex code 1 or 2). The outputs, a dict, are
``risk`` (sigmoid: the probability that progression exceeds the training median) and
``progression`` (the disease progression one year after baseline). A dict names the exported
signature's outputs by its keys; a list would name them ``output_0`` and ``output_1``.
"""

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
NAME = "keras-multi-io"
DESCRIPTION = (
    "Keras network: measurements and history in, risk and progression out, "
    "on scikit-learn's diabetes data set."
)
MEASUREMENTS = ["bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
HISTORY = ["age", "sex"]
SAMPLE_ROWS = 6


def data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Train and test inputs by name and the progression targets, split with the fixed seed."""
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    measurements = diabetes[MEASUREMENTS].to_numpy(np.float32)
    history = diabetes[HISTORY].to_numpy().round().astype(np.int32)
    target = diabetes["target"].to_numpy(np.float32)
    m_train, m_test, h_train, h_test, y_train, y_test = train_test_split(
        measurements, history, target, test_size=0.2, random_state=SEED
    )
    train = {"measurements": m_train, "history": h_train}
    test = {"measurements": m_test, "history": h_test}
    return train, test, y_train, y_test


def build(train: dict[str, np.ndarray], y_train: np.ndarray) -> keras.Model:
    measurements = keras.Input(shape=(len(MEASUREMENTS),), name="measurements")
    history = keras.Input(shape=(len(HISTORY),), name="history", dtype="int32")
    scale_m = keras.layers.Normalization(name="scale_measurements")
    scale_m.adapt(train["measurements"])
    scale_h = keras.layers.Normalization(name="scale_history")
    scale_h.adapt(train["history"].astype(np.float32))
    joined = keras.layers.Concatenate()([scale_m(measurements), scale_h(history)])
    hidden = keras.layers.Dense(16, activation="relu")(joined)
    risk = keras.layers.Dense(1, activation="sigmoid", name="risk")(hidden)
    scaled = keras.layers.Dense(1)(hidden)
    # learn a standardised target; the layer maps it back to disease-progression units
    mean, std = float(y_train.mean()), float(y_train.std())
    progression = keras.layers.Rescaling(scale=std, offset=mean, name="progression")(scaled)
    return keras.Model(
        {"measurements": measurements, "history": history},
        {"risk": risk, "progression": progression},
    )


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    directory.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    inputs, test, y_train, _ = data()
    model = build(inputs, y_train)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss={"risk": "binary_crossentropy", "progression": "mean_squared_error"},
        loss_weights={"risk": 1.0, "progression": 1.0 / float(y_train.var())},
    )
    targets = {
        "risk": (y_train > np.median(y_train)).astype(np.float32),
        "progression": y_train,
    }
    model.fit(inputs, targets, epochs=60, batch_size=32, verbose=0, shuffle=True)
    model.save(directory / "model.keras")
    np.savez(directory / "sample.npz", **{k: v[:SAMPLE_ROWS] for k, v in test.items()})
    click.echo(f"{NAME}: {quality(directory)}", err=True)
    return [
        "-f",
        "tensorflow",
        "-a",
        str(directory / "model.keras"),
        "--sample",
        str(directory / "sample.npz"),
    ]


def quality(directory: Path) -> str:
    """Test-split accuracy of ``risk`` and R² of ``progression`` of the saved model."""
    _, test, y_train, y_test = data()
    model = keras.saving.load_model(directory / "model.keras")
    answers = model(test, training=False)
    risk = np.asarray(answers["risk"])[:, 0]
    progression = np.asarray(answers["progression"])[:, 0]
    accuracy = float(np.mean((risk > 0.5) == (y_test > np.median(y_train))))
    r2 = 1 - float(np.sum((progression - y_test) ** 2) / np.sum((y_test - y_test.mean()) ** 2))
    return f"test risk accuracy {accuracy:.3f}, progression R^2 {r2:.3f}"


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
