"""What the XGBoost and LightGBM importers share: the model file copied as it is (it holds
only data), its contract described, and the library's own prediction as the golden reference."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from modelrepo.modeldir.importers import Imported
from modelrepo.modeldir.request import NewModel, Step
from wrappers.contract import Spec
from wrappers.errors import ManifestError, ScaffoldError
from wrappers.frameworks.boosters import Objective, answer

#: the library's own prediction for the checked input of a described booster
Reference = Callable[[Any, Spec, Any], Any]


def import_booster(
    request: NewModel,
    work: Path,
    step: Step,
    describer: ModuleType,
    file_name: str,
    reference: Reference,
) -> Imported:
    """Copies the model file to ``file_name``, loads it as the server will and describes it;
    the golden answers come from ``reference``, the library's DataFrame path."""
    artifact = Path(request.artifact)
    shutil.copyfile(artifact, work / file_name)
    with step(f"loading the booster from {artifact.name}"):
        try:
            booster = describer.load_booster(work / file_name)
        except ManifestError as exc:
            raise ScaffoldError(str(exc)) from exc
        except Exception as exc:  # the library raises its own error types for a bad file
            raise ScaffoldError(f"{artifact} does not load as a model file: {exc}") from exc
    try:
        inputs, outputs, options = describer.describe(booster, request.methods)
    except ManifestError as exc:
        raise ScaffoldError(f"{artifact}: {exc}") from exc
    objective = Objective.read(options)
    (spec,) = inputs

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        (value,) = checked.values()
        raw = reference(booster, spec, value)
        return {o.name: answer(objective, o.name, raw) for o in outputs}

    names = list(spec.column_names) if hasattr(spec, "column_names") else spec.names  # type: ignore[union-attr]
    return Imported(
        artifacts=[file_name],
        predict=predict,
        kind=f"{objective.name} booster",
        tolerance=1e-6,
        inputs=inputs,
        outputs=outputs,
        dtype=describer.DTYPE,
        names=names,
        options=options,
    )
