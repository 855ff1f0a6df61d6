"""The encoder as one TorchScript graph, from token tensors to sentence embeddings.

Run eagerly, a forward pass of a small transformer is a few hundred torch calls from Python.
Each call gives the GIL up and takes it back, so the model thread queues behind the request
threads of its worker, and on few cores the calls' own overhead is much of a short text's time
(all-MiniLM-L6-v2, one text, two threads: 4.5 ms eager, 3.1 ms as a graph). A traced graph runs
the whole pass in C++ and gives the GIL up once.

A trace records one path through the model's Python, so a graph is used only when it gives the
eager model's embeddings on a padded batch and on a single text.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

#: how far the graph's embeddings may be from the eager model's
TOLERANCE = 1e-5
#: texts of unequal length, so that the trace and its check both see padding
PROBES = (["a short text", "a longer text, whose tokens outnumber the first one's"], ["one"])

#: texts to a tensor of sentence embeddings
Encode = Callable[[list[str]], Any]


class NoGraph(ValueError):
    """The encoder cannot run as a graph; it runs eagerly."""


def eager(encoder: Any) -> Encode:
    """The encoder's modules, one after the other, as ``SentenceTransformer.forward`` runs them."""
    import torch

    def run(texts: list[str]) -> Any:
        with torch.inference_mode():
            return encoder(encoder.preprocess(texts))["sentence_embedding"]

    return run


def graph(encoder: Any) -> Encode:
    """The encoder traced, checked against its eager self on ``PROBES``; NoGraph when its first
    module is not a text transformer, or when the graph's embeddings differ."""
    run, plain = _traced(encoder), eager(encoder)
    for texts in PROBES:
        gap = float(np.abs(run(texts).numpy() - plain(texts).numpy()).max())
        if not gap <= TOLERANCE:
            raise NoGraph(f"the traced embeddings differ from the eager ones by {gap:.2g}")
    return run


def _traced(encoder: Any) -> Encode:
    """Traces the transformer's forward and the modules after it (pooling, normalising); the
    tokenizer stays outside, in Python."""
    import torch

    first, rest = encoder[0], list(encoder)[1:]
    config = getattr(first, "modality_config", {}).get("text", {})
    if config.get("method") != "forward" or getattr(first, "auto_model", None) is None:
        raise NoGraph(f"its first module, {type(first).__name__}, is no text transformer")
    example = encoder.preprocess(PROBES[0])
    names = [name for name, value in example.items() if isinstance(value, torch.Tensor)]

    class Pass(torch.nn.Module):
        """The encoder's forward over positional tensors, which is what a trace takes."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = first.auto_model
            self.rest = torch.nn.ModuleList(rest)

        def forward(self, *tensors: Any) -> Any:
            features = dict(zip(names, tensors, strict=True))
            tokens = self.transformer(**features, return_dict=False)[0]
            features[first.module_output_name] = tokens
            for module in self.rest:
                features = module(features)
            return features["sentence_embedding"]

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # notes on values the trace keeps constant: checked
        traced = torch.jit.trace(Pass().eval(), tuple(example[n] for n in names), check_trace=False)
        frozen = torch.jit.freeze(traced.eval())

    def run(texts: list[str]) -> Any:
        features = encoder.preprocess(texts)
        with torch.inference_mode():
            return frozen(*(features[name] for name in names))

    return run
