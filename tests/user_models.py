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
