"""PyTorch modules: the architecture is code in the model directory, the weights a state dict."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from wrappers.base import ServedModel
from wrappers.errors import ManifestError, ModelLoadError

#: prefixes that torch.compile (``_orig_mod.``) and DataParallel (``module.``) add to keys
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


class TorchModel(ServedModel):
    """Rebuilds ``options.architecture`` (``file.py:Class``) and loads its weights strictly."""

    framework = "torch"
    distribution = "torch"
    module = "torch"

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        if "architecture" not in self.manifest.options:
            raise ManifestError("a torch manifest needs options.architecture as 'file.py:Class'")
        self.network: Any = None

    def _load(self) -> None:
        import torch

        torch.set_num_threads(self.budget.intra_op_threads)
        options = self.manifest.options
        network = build_network(
            self.model_dir, options["architecture"], options.get("init_kwargs", {})
        )
        checkpoint = torch.load(
            self.model_dir / options.get("checkpoint", "model.pt"),
            map_location="cpu",
            weights_only=True,
        )
        load_weights(network, checkpoint)
        self.network = network.eval()
        self._torch = torch

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            output = self.network(self._torch.from_numpy(batch))
        return output.numpy().reshape(len(batch), -1)


def build_network(model_dir: Path, architecture: str, init_kwargs: Mapping[str, Any]) -> Any:
    """Imports ``file.py:Class`` from the model directory and instantiates it."""
    file_name, _, class_name = architecture.partition(":")
    path = Path(model_dir) / file_name
    if not class_name or not path.is_file():
        raise ModelLoadError(f"architecture {architecture!r}: expected an existing 'file.py:Class'")
    module_name = f"modelrepo_arch_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, class_name):
        raise ModelLoadError(f"{path} defines no class {class_name}")
    return getattr(module, class_name)(**init_kwargs)


def load_weights(network: Any, checkpoint: Mapping[str, Any]) -> None:
    """Loads a bare state dict or a checkpoint dict; every key must match (strict)."""
    state = checkpoint.get("model_state_dict", checkpoint)
    state = {_strip_prefixes(key): value for key, value in state.items()}
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"checkpoint does not fit {type(network).__name__}: {exc}") from exc


def _strip_prefixes(key: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    return key
