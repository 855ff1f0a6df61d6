"""sentence-transformers: texts to embeddings with a SentenceTransformer folder whose every file
(weights, tokenizer, configuration) the manifest hashes."""

from __future__ import annotations

import logging
from typing import Any

from wrappers.contract import TextSpec
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import ManifestError
from wrappers.frameworks.sentence_transformers.describe import MODEL_FOLDER, load_encoder
from wrappers.frameworks.sentence_transformers.graph import Encode, eager, graph

logger = logging.getLogger(__name__)


class SentenceTransformerRuntime(ServedModel):
    """Loads ``options.model`` (the saved folder, ``model`` by default) and answers the
    embedding of each text, normalised to unit length unless ``options.normalize`` is false.
    The transformer runs as a TorchScript graph unless ``options.graph`` is false (``graph``)."""

    framework = "sentence-transformers"
    distribution = "sentence-transformers"
    module = "sentence_transformers"
    companions = ("transformers", "torch")

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        (text, *others) = self.manifest.inputs
        if others or not isinstance(text, TextSpec) or len(self.manifest.outputs) != 1:
            raise ManifestError(
                "a sentence-transformers manifest has one text input and one output"
            )
        self.text, self.output = text.name, self.manifest.outputs[0].name
        self.folder = self.manifest.options.get("model", MODEL_FOLDER)
        self.normalize = bool(self.manifest.options.get("normalize", True))
        #: whether the encoder runs as a TorchScript graph: ``options.graph``, unless it
        #: cannot be traced
        self.graph = bool(self.manifest.options.get("graph", True))
        self.encode: Encode | None = None

    def _load(self) -> None:
        encoder = load_encoder(self.source / self.folder, self.budget.intra_op_threads)
        self.encode = eager(encoder)
        if self.graph:
            try:
                self.encode = graph(encoder)
            except Exception as exc:  # a trace fails in many ways; the eager encoder is right
                self.graph = False
                logger.warning("%s runs eagerly, not as a graph: %s", self.manifest.name, exc)

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        import torch

        embeddings = self.encode(inputs[self.text])
        if self.normalize:
            embeddings = torch.nn.functional.normalize(embeddings, dim=1)
        return {self.output: embeddings.numpy()}
