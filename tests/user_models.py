"""Models as a user brings them: trained here, saved the framework's usual way, and the flags
``modelrepo new`` needs for each. ``predict`` calls the trained model itself, not our code."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TORCH_MODULE = '''"""A user's network: two layers and a sigmoid."""

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, n_features: int = 6, hidden: int = 8) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
'''


@dataclass
class UserModel:
    framework: str
    artifact: Path
    new_args: list[str]
    predict: Callable[[np.ndarray], np.ndarray]
    #: inputs that are not among the golden pairs
    rows: np.ndarray


def sklearn_model(directory: Path) -> UserModel:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, target)
    artifact = directory / "m.joblib"
    joblib.dump(model, artifact)
    return UserModel("sklearn", artifact, [], model.predict_proba, features[[3, 60, 140]])


def keras_model(directory: Path) -> UserModel:
    import keras
    from sklearn.datasets import make_regression

    keras.utils.set_random_seed(0)
    features, target = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    features, target = features.astype(np.float32), (target / target.std()).astype(np.float32)
    inputs = keras.Input(shape=(3,), name="features")
    outputs = keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mean_squared_error")
    model.fit(features, target, epochs=5, batch_size=32, verbose=0)
    artifact = directory / "net.keras"
    model.save(artifact)

    def predict(rows: np.ndarray) -> np.ndarray:
        return np.asarray(model(np.asarray(rows, dtype=np.float32), training=False))

    args = ["--features", "a,b,c", "--outputs", "y"]
    return UserModel("tensorflow", artifact, args, predict, features[[5, 50, 150]])


def torch_model(directory: Path) -> UserModel:
    import torch
    from sklearn.datasets import make_classification

    source = directory / "tiny_net.py"
    source.write_text(TORCH_MODULE)
    spec = importlib.util.spec_from_file_location("user_tiny_net", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)

    torch.manual_seed(0)
    features, target = make_classification(n_samples=200, n_features=6, random_state=0)
    x = torch.from_numpy(features.astype(np.float32))
    y = torch.from_numpy(target.astype(np.float32)).view(-1, 1)
    network = module.TinyNet(n_features=6, hidden=8)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy(network(x), y).backward()
        optimizer.step()
    network.eval()
    artifact = directory / "tiny.pt"
    torch.save(network.state_dict(), artifact)

    def predict(rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return network(torch.from_numpy(np.asarray(rows, dtype=np.float32))).numpy()

    args = [
        "--module",
        f"{source}:TinyNet",
        "--n-features",
        "6",
        "--init-kwargs",
        json.dumps({"n_features": 6, "hidden": 8}),
        "--outputs",
        "probability",
    ]
    return UserModel("torch", artifact, args, predict, features[[7, 70, 170]])


TOKEN_MODULE = '''"""A user's classifier over token ids: mean embedding, then a linear layer."""

import torch
from torch import nn


class TokenBag(nn.Module):
    def __init__(self, vocabulary: int = 50, width: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, width)
        self.head = nn.Linear(width, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids).mean(dim=1))
'''
#: token ids per row, and the size of TokenBag's vocabulary (its embedding table)
TOKENS, VOCABULARY = 5, 50


@dataclass
class TokenModel:
    network: object
    module: Path
    artifact: Path
    #: an int64 .npy of token ids, as the user keeps their sample
    sample: Path
    rows: np.ndarray

    def predict(self, ids: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.network(torch.from_numpy(np.asarray(ids, dtype=np.int64))).numpy()


def token_model(directory: Path) -> TokenModel:
    """TokenBag trained to tell which third of the vocabulary most of a row's ids are from."""
    import torch

    source = directory / "token_bag.py"
    source.write_text(TOKEN_MODULE)
    spec = importlib.util.spec_from_file_location("user_token_bag", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)

    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(0, VOCABULARY, (300, TOKENS))
    labels = np.stack([(ids // 17 == k).sum(axis=1) for k in range(3)], axis=1).argmax(axis=1)
    network = module.TokenBag(vocabulary=VOCABULARY)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    x, y = torch.from_numpy(ids), torch.from_numpy(labels)
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(network(x), y).backward()
        optimizer.step()
    network.eval()
    artifact = directory / "token_bag.pt"
    torch.save(network.state_dict(), artifact)
    sample = directory / "ids.npy"
    np.save(sample, ids[:8])
    return TokenModel(network, source, artifact, sample, ids[200:206])


REVIEWS = [
    ("great blender, works well", 1),
    ("terrible, broke after a week", 0),
    ("love it, great value", 1),
    ("awful: noisy and cheap", 0),
    ("works great every morning", 1),
    ("broke quickly, awful smell", 0),
]


@dataclass
class TextColumnModel:
    model: object
    #: the SavedModel ``model.export`` wrote
    artifact: Path
    #: a JSON list of strings, as the user keeps their sample
    sample: Path

    def predict(self, texts: list[str]) -> np.ndarray:
        import tensorflow as tf

        column = tf.constant([[t] for t in texts])
        return np.asarray(self.model(column, training=False))


def text_column_model(directory: Path) -> TextColumnModel:
    """Keras ``Input(shape=(1,), dtype="string")`` through ``TextVectorization``: a string
    column ``[N, 1]``, trained on a few reviews and exported with ``model.export``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    texts = [t for t, _ in REVIEWS] * 10
    labels = np.array([y for _, y in REVIEWS] * 10, dtype=np.float32)
    vectorize = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=6)
    vectorize.adapt(texts)
    text = keras.Input(shape=(1,), dtype="string", name="text")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(40, 4)(vectorize(text)))
    model = keras.Model(text, keras.layers.Dense(1, activation="sigmoid")(pooled))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant(texts)[:, None], labels, epochs=20, batch_size=8, verbose=0)
    artifact = directory / "exported"
    model.export(str(artifact), verbose=False)
    sample = directory / "reviews.json"
    sample.write_text(json.dumps([t for t, _ in REVIEWS[:4]]))
    return TextColumnModel(model, artifact, sample)


def xgboost_model(directory: Path) -> UserModel:
    import xgboost
    from sklearn.datasets import load_wine

    features, target = load_wine(return_X_y=True)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1)
    model.fit(features, target)
    artifact = directory / "model.ubj"
    model.save_model(artifact)
    return UserModel("xgboost", artifact, [], model.predict_proba, features[[3, 60, 140]])


def lightgbm_model(directory: Path) -> UserModel:
    import lightgbm
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True)
    model = lightgbm.LGBMRegressor(n_estimators=30, random_state=0, n_jobs=1, verbose=-1)
    model.fit(features, target)
    artifact = directory / "model.txt"
    model.booster_.save_model(artifact)

    def predict(rows: np.ndarray) -> np.ndarray:
        return model.predict(np.asarray(rows)).reshape(-1, 1)

    return UserModel("lightgbm", artifact, [], predict, features[[3, 60, 140]])


TRAINERS = {
    "sklearn": sklearn_model,
    "tensorflow": keras_model,
    "torch": torch_model,
    "xgboost": xgboost_model,
    "lightgbm": lightgbm_model,
}
