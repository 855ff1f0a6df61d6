"""sentence-transformers: a saved SentenceTransformer folder (``model.save(dir)``, or a Hub
snapshot), copied whole into ``model/``: its weights, tokenizer and configuration are each
hashed by the manifest. Texts in, one ``embedding`` row per text out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from modelrepo.modeldir.importers import Imported
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers.errors import ScaffoldError
from wrappers.frameworks.sentence_transformers.describe import (
    MODEL_FOLDER,
    describe,
    load_encoder,
)

#: what a saved SentenceTransformer folder always holds
MODULES_FILE = "modules.json"


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Copies the folder to ``model/`` and reads the embedding width from the loaded model."""
    artifact = Path(request.artifact)
    if not (artifact / MODULES_FILE).is_file():
        raise ScaffoldError(
            f"{artifact}: expected a saved SentenceTransformer folder (with {MODULES_FILE}); "
            "save one with model.save(path)"
        )
    with step(f"copying {artifact.name} to {MODEL_FOLDER}/"):
        shutil.copytree(artifact, work / MODEL_FOLDER)
    with step("loading the SentenceTransformer"):
        try:
            encoder = load_encoder(work / MODEL_FOLDER)
        except Exception as exc:  # transformers raises many types for a bad folder
            raise ScaffoldError(
                f"{artifact} does not load as a SentenceTransformer: {exc}"
            ) from exc
    inputs, outputs = describe(encoder)

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        texts = checked[inputs[0].name]
        embeddings = encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return {outputs[0].name: embeddings}

    return Imported(
        artifacts=[MODEL_FOLDER],
        predict=predict,
        kind=f"SentenceTransformer {artifact.name}",
        tolerance=1e-5,
        inputs=inputs,
        outputs=outputs,
        options={"model": MODEL_FOLDER, "normalize": True},
    )
