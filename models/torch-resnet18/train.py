"""Builds ResNet18 (network.py) from a seeded random initialisation and this model directory
from its state dict and one generated image with ``modelrepo new``; nothing is downloaded.

The weights (47 MB) are not committed: ``python train.py --artifacts-only`` makes them again,
the same bit for bit, and checks them against the sha256 the committed manifest pins.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The weights must not depend on the CPU that makes them, yet the vectorized kernels choose their
# instructions, and so their random streams and sums, from it. So ATen runs its portable kernels,
# MKL its compatible code path (torch reads both as it loads) and oneDNN is off.
os.environ["ATEN_CPU_CAPABILITY"] = "default"
os.environ["MKL_CBWR"] = "COMPATIBLE"

import numpy as np
import torch
from network import ResNet18

from modelrepo.modeldir.rebuild import rebuild_command
from wrappers.core.formats import SAFETENSORS_FILE, save_safetensors

SEED = 0
CLASSES = 1000
NAME = "torch-resnet18"
DESCRIPTION = "ResNet18 (seeded random weights, 1000 logits) on float32 3x224x224 images."
HERE = Path(__file__).parent
#: chosen from bench/results/batching/torch-resnet18.md: its CPU per image hardly falls with
#: the batch, so one worker keeps both cores for each call (a lone request is as fast as the
#: bare call) and batches of up to 8 only spare the per-call costs (docs/performance.md)
WORKERS, THREADS = 1, 8
TUNING = {
    "GRPC_THREADS": str(THREADS),
    "MODELREPO_MICROBATCH_ROWS": "8",
    "MODELREPO_MICROBATCH_WAIT_MS": "5",
}


def build() -> ResNet18:
    """The network with its seeded initial weights, in eval mode."""
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    return ResNet18(CLASSES).eval()


def image(rows: int = 1) -> np.ndarray:
    """Standard-normal float32 [rows, 3, 224, 224] images in steps of 1/8 (so their JSON is
    short and exact), as a normalised photograph's values spread."""
    pixels = np.random.default_rng(SEED).standard_normal((rows, 3, 224, 224))
    return (np.clip(np.round(pixels * 8), -24, 24) / 8).astype(np.float32)


def export(directory: Path) -> list[str]:
    """Saves the state dict, network.py and one image in `directory` as a user would, and
    returns the `modelrepo new` arguments that build the model directory from them."""
    torch.save(build().state_dict(), directory / "model.pt")
    shutil.copyfile(HERE / "network.py", directory / "network.py")
    np.save(directory / "image.npy", image())
    return [
        "-f", "torch",
        "-a", str(directory / "model.pt"),
        "--module", f"{directory / 'network.py'}:ResNet18",
        "--sample", str(directory / "image.npy"),
        "--workers", str(WORKERS),
        "--threads", str(THREADS),
    ]  # fmt: skip


def place(model_dir: Path) -> None:
    """``model.safetensors`` as ``modelrepo new`` stored it from the same state dict."""
    save_safetensors(build().state_dict(), model_dir / SAFETENSORS_FILE)


main = rebuild_command(NAME, DESCRIPTION, export, HERE, place, TUNING)

if __name__ == "__main__":
    main()
