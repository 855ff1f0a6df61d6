"""The contract of a SentenceTransformer: texts in, one embedding row per text out; what
``modelrepo new`` records and the runtime serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wrappers.contract import Spec, TensorSpec, TextSpec

#: the saved SentenceTransformer folder inside a model directory
MODEL_FOLDER = "model"
INPUT, OUTPUT = "text", "embedding"


def load_encoder(folder: Path, threads: int | None = None) -> Any:
    """The SentenceTransformer saved in ``folder``, on the CPU, from its files alone: the Hub
    is never asked (``HF_HUB_OFFLINE``) and no code from the folder runs."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if threads is not None:
        torch.set_num_threads(threads)
    encoder = SentenceTransformer(
        str(folder), device="cpu", local_files_only=True, trust_remote_code=False
    )
    return encoder.eval()


def describe(encoder: Any) -> tuple[list[Spec], list[TensorSpec]]:
    """One ``text`` input, one float32 ``embedding`` output as wide as the encoder's."""
    width = encoder.get_embedding_dimension()
    return [TextSpec(name=INPUT)], [TensorSpec(name=OUTPUT, dtype="float32", shape=[-1, width])]
