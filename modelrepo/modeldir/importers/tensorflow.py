"""TensorFlow: a Keras model file (exported to a SavedModel) or a SavedModel directory
(copied); the serving signature gives every named input and output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir.importers import Imported, Predict
from modelrepo.modeldir.request import NewModel, Step
from modelrepo.modeldir.samples import Sample
from wrappers.errors import ManifestError, ScaffoldError
from wrappers.frameworks.tensorflow.describe import (
    SAVED_MODEL,
    SIGNATURE,
    describe,
    export_options,
    texts_decoded,
)


def import_artifact(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """Writes ``saved_model/<version>/`` and reads its serving signature."""
    artifact = Path(request.artifact)
    target = work / SAVED_MODEL / request.version
    target.parent.mkdir()
    with step("importing TensorFlow"):
        import tensorflow as tf
    model, kind = _place_saved_model(artifact, target, step)
    with step("reading the serving signature"):
        try:
            inputs, outputs = describe(target)
        except ManifestError as exc:
            raise ScaffoldError(f"{artifact}: {exc}") from exc
        serve = tf.saved_model.load(str(target)).signatures[SIGNATURE]

    def via_signature(checked: dict[str, Any]) -> dict[str, Any]:
        answers = serve(**{k: tf.constant(v) for k, v in checked.items()})
        return {k: texts_decoded(v.numpy()) for k, v in answers.items()}

    names = [s.name for s in outputs]
    return Imported(
        artifacts=[f"{SAVED_MODEL}/{request.version}"],
        predict=via_signature if model is None else _via_keras(model, names, via_signature),
        kind=kind,
        tolerance=1e-4,
        inputs=list(inputs),
        outputs=outputs,
        options=export_options(),
    )


def _place_saved_model(artifact: Path, target: Path, step: Step) -> tuple[Any, str]:
    """The SavedModel at ``target``, and the Keras model it was exported from (else None)."""
    if artifact.is_dir():
        if not (artifact / "saved_model.pb").is_file():
            raise ScaffoldError(f"{artifact} is a directory without saved_model.pb")
        with step(f"copying the SavedModel to {SAVED_MODEL}/{target.name}"):
            shutil.copytree(artifact, target)
        return None, "SavedModel"
    if artifact.suffix == ".keras":
        model = _load_keras(artifact, step)
        with step(f"exporting a SavedModel to {SAVED_MODEL}/{target.name}"):
            model.export(str(target), verbose=False)
        return model, f"Keras {type(model).__name__}"
    if artifact.suffix == ".h5":
        raise ScaffoldError(
            f"{artifact}: HDF5 (.h5) models are not served; save the model as .keras "
            "(model.save('m.keras')) or export a SavedModel (model.export(dir))"
        )
    raise ScaffoldError(f"{artifact}: expected a .keras file or a SavedModel directory")


def _load_keras(artifact: Path, step: Step) -> Any:
    """The Keras model, refused if it carries Python bytecode (Lambda layers)."""
    with step("loading the Keras model"):
        import keras

        try:  # safe_mode (the default, said here as it matters) refuses Lambda's bytecode
            model = keras.saving.load_model(artifact, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a bad file
            raise ScaffoldError(f"{artifact} does not load as a Keras model: {exc}") from exc
    lambdas = lambda_layers(model)
    if lambdas:
        raise ScaffoldError(
            f"{artifact} has Lambda layers {lambdas}: they are Python bytecode, which a "
            "served model may not carry; write them as a registered Layer subclass"
        )
    return model


def _via_keras(model: Any, names: list[str], via_signature: Predict) -> Predict:
    """The Keras model itself, not the export, so that the golden replay checks the export;
    the export's signature where the model's result cannot be matched to its outputs."""

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        (batch,) = checked.values() if len(checked) == 1 else (checked,)
        result = model(batch, training=False)
        if isinstance(result, dict):
            answers = dict(result)
        elif isinstance(result, list | tuple):
            answers = {f"output_{i}": v for i, v in enumerate(result)}
        else:
            answers = {names[0]: result} if len(names) == 1 else {}
        if sorted(answers) != sorted(names):
            return via_signature(checked)
        return {k: np.asarray(v) for k, v in answers.items()}

    return predict


def lambda_layers(model: Any) -> list[str]:
    """The names of every Keras Lambda layer in the model, nested models included."""
    import keras

    found, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.layers.Lambda):
            found.append(layer.name)
        stack.extend(getattr(layer, "layers", None) or [])
    return sorted(found)
