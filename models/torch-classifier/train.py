"""Trains SimpleNeuralNet with torch.compile, as the cookbook does, and saves its weights.

The state dict's keys carry torch.compile's ``_orig_mod.`` prefix on purpose: the wrapper must
strip it and load strictly, or it would serve an untrained network. They are stored as
safetensors, which hold tensors only and run no code as they load.
"""

from pathlib import Path

import click
import numpy as np
import torch
from network import SimpleNeuralNet
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from modelrepo.modeldir.builder import build_manifest
from wrappers.contract import TensorSpec
from wrappers.core.formats import SAFETENSORS_FILE, save_safetensors

SEED = 0
FEATURES = [f"x{i}" for i in range(10)]


@click.command()
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path(__file__).parent
)
@click.option("--epochs", default=20, show_default=True)
def main(out: Path, epochs: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    features, target = make_classification(n_samples=1000, n_features=10, random_state=SEED)
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
    for _ in range(epochs):
        for data, labels in loader:
            optimizer.zero_grad()
            loss = criterion(compiled(data), labels)
            loss.backward()
            optimizer.step()
    save_safetensors(compiled.state_dict(), out / SAFETENSORS_FILE)
    if out.resolve() != Path(__file__).parent.resolve():
        (out / "network.py").write_text((Path(__file__).parent / "network.py").read_text())

    network.eval()
    sample = x_test[:6]
    with torch.inference_mode():
        golden = network(torch.from_numpy(sample)).numpy()
        accuracy = float(((network(torch.from_numpy(x_test)).numpy()[:, 0] > 0.5) == y_test).mean())
    build_manifest(
        out,
        name="torch-classifier",
        version="1",
        description="The cookbook's SimpleNeuralNet trained with torch.compile.",
        framework="torch",
        artifacts=[SAFETENSORS_FILE, "network.py"],
        inputs=[TensorSpec(name="input", names=FEATURES, dtype="float32", shape=[-1, 10])],
        outputs=[TensorSpec(name="output", names=["probability"], dtype="float32", shape=[-1, 1])],
        sample={"input": sample},
        sample_output={"output": golden},
        tolerance=1e-5,
        options={"architecture": "network.py:SimpleNeuralNet", "checkpoint": SAFETENSORS_FILE},
    ).write(out)
    click.echo(f"torch-classifier written to {out} (test accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
