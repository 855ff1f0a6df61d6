"""sentence-transformers: texts to embeddings with a SentenceTransformer folder whose every file
(weights, tokenizer, configuration) the manifest hashes."""

from __future__ import annotations

from typing import Any

from wrappers.contract import TextSpec
from wrappers.core.model import Outputs, ServedModel
from wrappers.errors import ManifestError
from wrappers.frameworks.sentence_transformers.describe import MODEL_FOLDER, encode, load_encoder


class SentenceTransformerRuntime(ServedModel):
    """Loads ``options.model`` (the saved folder, ``model`` by default) and answers the
    embedding of each text, normalised to unit length unless ``options.normalize`` is false."""

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
        self.encoder: Any = None

    def _load(self) -> None:
        self.encoder = load_encoder(self.source / self.folder, self.budget.intra_op_threads)

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        return {self.output: encode(self.encoder, inputs[self.text], self.normalize)}
