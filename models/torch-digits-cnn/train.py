"""Trains DigitsCNN (network.py) on scikit-learn's bundled 8x8 digit images and builds this
model directory from its state dict and a sample of images with ``modelrepo new``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The weights must not depend on the CPU that trains them, yet the vectorized kernels choose their
# instructions, and so the order of their sums, from it. So ATen runs its portable kernels, MKL
# its compatible code path (torch reads both as it loads) and fit() turns oneDNN off.
os.environ["ATEN_CPU_CAPABILITY"] = "default"
os.environ["MKL_CBWR"] = "COMPATIBLE"

import click
import numpy as np
import torch
from network import DigitsCNN
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
EPOCHS = 8
#: the held-out share of the 1797 images; the sample is the first images held out
TEST_SIZE, SAMPLE_IMAGES = 0.2, 5
NAME = "torch-digits-cnn"
DESCRIPTION = "DigitsCNN (two 3x3 convolutions, 10 logits) on scikit-learn's 8x8 digit images."


def images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits as float32 [N, 1, 8, 8] images in [0, 1], split into training and held-out
    images and labels (stratified, fixed seed)."""
    digits = load_digits()
    pixels = (digits.images / 16).astype(np.float32)[:, None]
    return train_test_split(
        pixels, digits.target, test_size=TEST_SIZE, random_state=SEED, stratify=digits.target
    )


def fit(x_train: np.ndarray, y_train: np.ndarray) -> DigitsCNN:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # the sums' order, and so the weights, would follow the core count
    torch.backends.mkldnn.enabled = False  # its convolutions follow the CPU's instruction set
    network = DigitsCNN()
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    for _ in range(EPOCHS):
        for batch, labels in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(network(batch), labels).backward()
            optimizer.step()
    return network.eval()


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    x_train, x_test, y_train, y_test = images()
    network = fit(x_train, y_train)
    with torch.inference_mode():
        predicted = network(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    click.echo(f"{NAME}: held-out accuracy {np.mean(predicted == y_test):.3f}")
    shutil.copyfile(Path(__file__).parent / "network.py", directory / "network.py")
    torch.save(network.state_dict(), directory / "model.pt")
    np.save(directory / "digits.npy", x_test[:SAMPLE_IMAGES])
    return [
        "-f", "torch",
        "-a", str(directory / "model.pt"),
        "--module", f"{directory / 'network.py'}:DigitsCNN",
        "--sample", str(directory / "digits.npy"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
