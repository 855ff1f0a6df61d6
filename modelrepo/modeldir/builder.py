"""Builds the manifest of a freshly saved model: for train.py scripts and `modelrepo new`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wrappers import wrapper_for
from wrappers.contract import Spec, TensorSpec
from wrappers.core.manifest import Manifest, artifacts_under, golden_pairs, python_version


def build_manifest(
    model_dir: Path,
    *,
    name: str,
    framework: str,
    artifacts: Sequence[str],
    inputs: Sequence[Spec],
    outputs: Sequence[TensorSpec],
    sample: Mapping[str, Any],
    sample_output: Mapping[str, Any],
    version: str = "1",
    description: str = "",
    tolerance: float = 1e-6,
    options: Mapping[str, Any] | None = None,
) -> Manifest:
    """Hashes ``artifacts`` (files or directories below ``model_dir``), records the installed
    framework and Python versions, and keeps ``sample`` (values by input name) with the
    model's own outputs for it (by output name) as golden pairs that every worker replays
    before it serves.
    """
    return Manifest(
        name=name,
        version=version,
        description=description,
        framework=framework,
        framework_version=wrapper_for(framework).installed_version(),
        python_version=python_version(),
        artifacts=[a for path in artifacts for a in artifacts_under(model_dir, path)],
        inputs=list(inputs),
        outputs=list(outputs),
        golden=golden_pairs(list(inputs), list(outputs), sample, sample_output),
        tolerance=tolerance,
        options=dict(options or {}),
    )
