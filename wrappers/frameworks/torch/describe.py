"""The outputs of a PyTorch network, named from its result: what ``modelrepo new`` records.

A torch artifact holds no input contract (the architecture is code), so a directory without a
manifest is not served even with ``allow_unverified``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def name_outputs(result: Any) -> dict[str, np.ndarray]:
    """Names a result as a new manifest does: ``output``; ``output_0``, ... for a tuple; a
    dict's own keys."""
    if isinstance(result, Mapping):
        values = dict(result)
    elif isinstance(result, tuple | list):
        values = {f"output_{i}": v for i, v in enumerate(result)}
    else:
        values = {"output": result}
    return {k: as_numpy(v) for k, v in values.items()}


def as_numpy(value: Any) -> np.ndarray:
    """A tensor (detached from autograd) or any array-like as a numpy array."""
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


#: how a program takes any batch size, said wherever a fixed one is found
DYNAMIC_BATCH = (
    'torch.export.export(model, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}}) '
    "with an example of 2 or more rows"
)


def program_inputs(module: Any) -> list[Any]:
    """The placeholders of a ``torch.export`` program's module: its inputs, in order."""
    return [node for node in module.graph.nodes if node.op == "placeholder"]


def fixed_batch(module: Any) -> int | None:
    """The batch size a program was traced with when it cannot take another (export without
    ``dynamic_shapes`` specialises every dimension); None when the batch dimension is free."""
    for node in program_inputs(module):
        value = node.meta.get("val")
        if getattr(value, "ndim", 0) > 0 and isinstance(value.shape[0], int):
            return int(value.shape[0])
    return None


def program_embedding_sizes(module: Any) -> dict[int, int]:
    """By input position, the size of the embedding table an input indexes directly
    (``aten.embedding`` on the very placeholder): its values must lie in ``[0, size - 1]``."""
    import torch

    position = {node: i for i, node in enumerate(program_inputs(module))}
    sizes: dict[int, int] = {}
    for node in module.graph.nodes:
        if node.op != "call_function" or node.target != torch.ops.aten.embedding.default:
            continue
        weight, indices = node.args[:2]
        if indices in position and weight.op == "get_attr":
            rows = int(_attribute(module, weight.target).shape[0])
            sizes[position[indices]] = min(rows, sizes.get(position[indices], rows))
    return sizes


def _attribute(module: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module
