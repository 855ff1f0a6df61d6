"""PyTorch modules: the architecture is code in the model directory, the weights a state dict."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wrappers.contract import TensorSpec
from wrappers.core.formats import load_safetensors, require_pickle_allowed
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import ManifestError, ModelLoadError
from wrappers.frameworks.torch.describe import DYNAMIC_BATCH, as_numpy, fixed_batch

#: prefixes that torch.compile (``_orig_mod.``) and DataParallel (``module.``) add to keys
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


class TorchRuntime(ServedModel):
    """Rebuilds ``options.architecture`` (``file.py:Class``) and loads its weights strictly, or
    loads a ``torch.export`` program (``options.program``, a ``.pt2``) that needs no class.

    Inputs go to ``forward`` positionally, in the manifest's order; a tensor, tuple or dict
    result gives the outputs in the manifest's order (a dict by name).
    """

    framework = "torch"
    distribution = "torch"
    module = "torch"
    companions = ("safetensors",)

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        options = self.manifest.options
        if ("architecture" in options) == ("program" in options):
            raise ManifestError(
                "a torch manifest needs options.architecture as 'file.py:Class' (with a "
                "state dict) or options.program (a torch.export .pt2 file)"
            )
        self.network: Any = None
        #: forward() takes the inputs positionally, in the manifest's order
        self.input_order = self.manifest.input_names

    def _load(self) -> None:
        import torch

        torch.set_num_threads(self.budget.intra_op_threads)
        options = self.manifest.options
        if "program" in options:
            program = self.source / options["program"]
            require_pickle_allowed(self.settings, program, "a torch.export program (it unpickles)")
            self.network = torch.export.load(program).module()
            self._check_batch(program.name)
        else:
            network = build_network(
                self.source, options["architecture"], options.get("init_kwargs", {})
            )
            checkpoint = self.source / options.get("checkpoint", "model.pt")
            if checkpoint.suffix != ".safetensors":
                require_pickle_allowed(self.settings, checkpoint, "a torch.save pickle")
            load_weights(network, read_checkpoint(checkpoint))
            self.network = network.eval()
        self._torch = torch

    def _check_batch(self, program: str) -> None:
        """A program traced with one batch size fails on any other with a bare guard error:
        refused here unless the contract records that batch."""
        batch = fixed_batch(self.network)
        free = [s.name for s in self.manifest.inputs if s.kind == "tensor" and s.shape[0] == -1]
        if batch is not None and free:
            raise ModelLoadError(
                f"{program} was exported with a fixed batch of {batch}, but the manifest's "
                f"input {free[0]} takes any batch; export it with {DYNAMIC_BATCH}, or run "
                "`modelrepo new` again to record the fixed batch"
            )

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        tensors = [self._torch.from_numpy(inputs[name]) for name in self.input_order]
        with self._torch.inference_mode():
            result = self.network(*tensors)
        return outputs_by_name(result, self.manifest.outputs, len(tensors[0]))


def outputs_by_name(result: Any, specs: Sequence[TensorSpec], rows: int) -> Outputs:
    """A network's tensor, tuple or dict result as numpy arrays by output name."""
    if hasattr(result, "detach"):  # one tensor, the usual case
        values = [result]
    elif isinstance(result, Mapping):
        missing = [s.name for s in specs if s.name not in result]
        if missing:
            raise ModelLoadError(f"the network's result has no outputs {missing}: {list(result)}")
        values = [result[s.name] for s in specs]
    elif isinstance(result, tuple | list):
        if len(result) != len(specs):
            raise ModelLoadError(f"the network gives {len(result)} outputs, not {len(specs)}")
        values = list(result)
    else:
        values = [np.asarray(result)]
    arrays = {}
    for spec, value in zip(specs, values, strict=False):
        array = as_numpy(value)
        arrays[spec.name] = array.reshape(rows, -1) if spec.rank == 2 else array
    return arrays


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


def read_checkpoint(path: Path) -> Mapping[str, Any]:
    """safetensors as they are; a ``torch.save`` file through torch's restricted unpickler
    (``weights_only``), which still parses a pickle (callers check ``allow_pickle``)."""
    if path.suffix == ".safetensors":
        return load_safetensors(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


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
