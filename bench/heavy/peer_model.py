"""The model as the peer servers run it (MLServer's custom runtime, TorchServe's handler).

It runs in their environments, not in .venv, so it imports nothing of this repository: it reads
the model directory's manifest.json, rebuilds a torch network from its ``network.py`` and
safetensors weights, or loads the SentenceTransformer folder, and calls it on a whole batch.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np


class PeerModel:
    def __init__(self, model_dir: str | Path, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.path = Path(model_dir)
        self.manifest = json.loads((self.path / "manifest.json").read_text())
        self.text = self.manifest["framework"] == "sentence-transformers"
        spec = self.manifest["inputs"][0]
        self.shape = [] if self.text else [d for d in spec["shape"][1:]]
        options = self.manifest["options"]
        if self.text:
            from sentence_transformers import SentenceTransformer

            self.model: Any = SentenceTransformer(str(self.path / options.get("model", "model")))
            return
        from safetensors.torch import load_file

        file, name = options["architecture"].split(":")
        module_spec = importlib.util.spec_from_file_location("network", self.path / file)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        network = getattr(module, name)(**options.get("init_kwargs", {}))
        network.load_state_dict(load_file(self.path / options.get("checkpoint", "model.pt")))
        self.model = network.eval()

    def predict(self, batch: Any) -> np.ndarray:
        """Texts (a list of str) to embeddings, or a float32 [N, ...] array to the network's
        output."""
        if self.text:
            return self.model.encode(list(batch), normalize_embeddings=True)
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(np.asarray(batch, dtype=np.float32))).numpy()

    def image(self, data: bytes) -> np.ndarray:
        """One request's raw little-endian float32 bytes as an image of the model's shape."""
        return np.frombuffer(data, dtype="<f4").reshape(self.shape)
