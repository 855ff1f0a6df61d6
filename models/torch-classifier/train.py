"""Trains SimpleNeuralNet with torch.compile, as the cookbook does, saves its weights as a user
would and builds this model directory from them with ``modelrepo new``.

The state dict's keys carry torch.compile's ``_orig_mod.`` prefix on purpose: the wrapper must
strip it and load strictly, or it would serve an untrained network. ``modelrepo new`` stores
them as safetensors, which hold tensors only and run no code as they load.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from network import SimpleNeuralNet
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
#: gunicorn workers per replica in deployment.yaml and .s2i/environment
WORKERS = 2
EPOCHS = 20
N_FEATURES = 10
SAMPLE_ROWS = 6
NAME = "torch-classifier"
DESCRIPTION = "The cookbook's SimpleNeuralNet trained with torch.compile."


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    features, target = make_classification(n_samples=1000, n_features=N_FEATURES, random_state=SEED)
    x_train, x_test, y_train, y_test = train_test_split(
        features.astype(np.float32), target.astype(np.float32), test_size=0.1, random_state=1
    )
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train).view(-1, 1)),
        batch_size=100,
        shuffle=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    network = SimpleNeuralNet()
    criterion = nn.BCELoss()
    optimizer = torch.optim.RMSprop(network.parameters())
    compiled = torch.compile(network)
    for _ in range(EPOCHS):
        for data, labels in loader:
            optimizer.zero_grad()
            loss = criterion(compiled(data), labels)
            loss.backward()
            optimizer.step()
    network.eval()
    with torch.inference_mode():
        accuracy = float(((network(torch.from_numpy(x_test)).numpy()[:, 0] > 0.5) == y_test).mean())
    click.echo(f"{NAME}: test accuracy {accuracy:.3f}")
    torch.save(compiled.state_dict(), directory / "model.pt")
    np.save(directory / "rows.npy", x_test[:SAMPLE_ROWS])
    return [
        "-f", "torch",
        "-a", str(directory / "model.pt"),
        "--module", f"{Path(__file__).parent / 'network.py'}:SimpleNeuralNet",
        "--n-features", str(N_FEATURES),
        "--outputs", "probability",
        "--sample", str(directory / "rows.npy"),
        "--workers", str(WORKERS),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
