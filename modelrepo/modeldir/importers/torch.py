"""PyTorch: a state dict or checkpoint dict with the ``file.py:Class`` that rebuilds the network
(stored as safetensors), or a ``torch.export`` program (``.pt2``), copied as it is: torch
unpickles parts of such a program as it loads, so it is served only with ``allow_pickle``.

Integer inputs that index an embedding table directly get its range in the contract; a program
traced without a free batch dimension gets that fixed batch in its inputs' shape."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir.importers import Imported, Ranges
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers.core.formats import SAFETENSORS_FILE, save_safetensors
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.errors import ModelLoadError, ScaffoldError
from wrappers.frameworks.torch.describe import fixed_batch, name_outputs, program_embedding_sizes
from wrappers.frameworks.torch.model import build_network, load_weights, read_checkpoint

PROGRAM_FILE = "model.pt2"
#: files the model directory writes itself; an architecture file may not take these names
RESERVED = {"MyModel.py", MANIFEST_FILE, "requirements.txt", "request.json", "deployment.yaml"}


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``model.safetensors`` and the architecture's file, or ``model.pt2``."""
    with step("importing torch"):
        import torch
    batch = None
    if Path(request.artifact).suffix == ".pt2":
        network = _exported_program(request, work, step)
        artifacts, options = [PROGRAM_FILE], {"program": PROGRAM_FILE}
        batch = fixed_batch(network)
        kind = "torch.export program" + (f" with a fixed batch of {batch}" if batch else "")
        ranges = _program_ranges(network)
    else:
        network, artifacts, options = _state_dict(request, work, step)
        kind = f"torch {request.module.partition(':')[2]}"  # type: ignore[union-attr]
        ranges = _embedding_ranges(network)

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        tensors = [torch.from_numpy(np.ascontiguousarray(v)) for v in checked.values()]
        with torch.inference_mode():
            return name_outputs(network(*tensors))

    return Imported(
        artifacts=artifacts,
        predict=predict,
        kind=kind,
        tolerance=1e-5,
        options=options,
        ranges=ranges,
        batch=batch,
    )


def _embedding_ranges(network: Any) -> Ranges:
    """Inputs that go unchanged into an ``nn.Embedding`` or ``nn.EmbeddingBag`` (the very
    tensor passed to ``forward``, seen by a hook as the sample runs) hold indices into its
    table: ``[0, num_embeddings - 1]``. An input transformed first (shifted, hashed, clamped)
    is not bounded here; ``--range`` gives its range."""
    import torch

    kinds = (torch.nn.Embedding, torch.nn.EmbeddingBag)

    def ranges(checked: dict[str, Any]) -> dict[str, tuple[int, int]]:
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in checked.items()}
        sizes: dict[str, int] = {}

        def seen(module: Any, args: tuple[Any, ...]) -> None:
            for name, tensor in tensors.items():
                if args and args[0] is tensor:
                    sizes[name] = min(module.num_embeddings, sizes.get(name, module.num_embeddings))

        hooks = [
            m.register_forward_pre_hook(seen) for m in network.modules() if isinstance(m, kinds)
        ]
        try:
            with torch.inference_mode():
                network(*tensors.values())
        finally:
            for hook in hooks:
                hook.remove()
        return {name: (0, size - 1) for name, size in sizes.items()}

    return ranges


def _program_ranges(module: Any) -> Ranges:
    """The same for a program: inputs that ``aten.embedding`` indexes with directly."""
    sizes = program_embedding_sizes(module)

    def ranges(checked: dict[str, Any]) -> dict[str, tuple[int, int]]:
        return {name: (0, sizes[i] - 1) for i, name in enumerate(checked) if i in sizes}

    return ranges


def _exported_program(request: NewModel, work: Path, step: Step) -> Any:
    import torch

    shutil.copyfile(request.artifact, work / PROGRAM_FILE)
    with step("loading the exported program"):
        try:
            return torch.export.load(work / PROGRAM_FILE).module()
        except Exception as exc:  # torch raises many types for a bad program
            raise ScaffoldError(
                f"{request.artifact} does not load as a torch.export program: {exc}"
            ) from exc


def _state_dict(request: NewModel, work: Path, step: Step) -> tuple[Any, list[str], dict[str, Any]]:
    """The rebuilt network with the user's weights, stored as safetensors."""
    import torch

    architecture, source = _copy_module(request, work)
    with step(f"rebuilding {architecture.partition(':')[2]} and loading its weights"):
        network, checkpoint = _rebuilt(request, work, architecture)
    state = checkpoint.get("model_state_dict", checkpoint)
    other = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if other:
        raise ScaffoldError(f"{request.artifact}: the state dict holds non-tensors at {other}")
    with step(f"storing the weights as {SAFETENSORS_FILE}"):
        save_safetensors(state, work / SAFETENSORS_FILE)
    options: dict[str, Any] = {"architecture": architecture, "checkpoint": SAFETENSORS_FILE}
    if request.init_kwargs:
        options["init_kwargs"] = request.init_kwargs
    return network, [SAFETENSORS_FILE, source], options


def _copy_module(request: NewModel, work: Path) -> tuple[str, str]:
    """Copies ``--module``'s file in; its ``file.py:Class`` and file name in the directory."""
    if not request.module:
        raise ScaffoldError(
            "a torch model needs its architecture: --module network.py:ClassName "
            "(or a torch.export .pt2 program)"
        )
    file_name, _, class_name = request.module.partition(":")
    source = Path(file_name)
    if not class_name or source.suffix != ".py" or not source.is_file():
        raise ScaffoldError(f"--module {request.module}: expected an existing file.py:ClassName")
    if source.name in RESERVED:
        raise ScaffoldError(f"--module: rename {source.name}, the model directory writes that file")
    shutil.copyfile(source, work / source.name)
    return f"{source.name}:{class_name}", source.name


def _rebuilt(request: NewModel, work: Path, architecture: str) -> tuple[Any, dict[str, Any]]:
    """The network built from the copied module, in eval mode, with the checkpoint loaded."""
    class_name = architecture.partition(":")[2]
    try:
        network = build_network(work, architecture, request.init_kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:  # the user's module: import or constructor errors
        raise ScaffoldError(
            f"--module {request.module}: cannot build {class_name}"
            f"(**{request.init_kwargs}): {type(exc).__name__}: {exc}"
        ) from exc
    try:
        checkpoint = read_checkpoint(Path(request.artifact))
    except Exception as exc:  # torch raises many types for a bad or unsafe file
        raise ScaffoldError(f"{request.artifact} does not load as a state dict: {exc}") from exc
    if not isinstance(checkpoint, dict):
        raise ScaffoldError(
            f"{request.artifact} holds a {type(checkpoint).__name__}; save the state dict: "
            "torch.save(model.state_dict(), path)"
        )
    load_weights(network, checkpoint)
    network.eval()
    return network, checkpoint
