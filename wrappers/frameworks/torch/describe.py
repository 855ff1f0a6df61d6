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
