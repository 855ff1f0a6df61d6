"""manifest.json: what a model directory holds, how it was made, and what it must answer.

The manifest is the single source of truth for a model directory. The wrappers read it (cheaply,
before gunicorn forks) for metadata and input checks, and again in ``load()`` to verify the
artifact hashes, the framework version and the golden pairs before a worker serves.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wrappers.errors import ManifestError

MANIFEST_FILE = "manifest.json"
Framework = Literal["sklearn", "tensorflow", "torch"]
NumericDType = Literal["float32", "float64", "int32", "int64"]


class TensorSpec(BaseModel):
    """Names, dtype and shape of a 2-D tensor; ``-1`` in ``shape`` means any batch size."""

    model_config = ConfigDict(extra="forbid")

    names: list[str]
    dtype: str
    shape: list[int]

    @field_validator("shape")
    @classmethod
    def _two_dimensional(cls, shape: list[int]) -> list[int]:
        if len(shape) != 2 or shape[1] < 1:
            raise ValueError(f"shape must be [batch, columns] with columns >= 1, got {shape}")
        return shape

    @property
    def width(self) -> int:
        return self.shape[1]


class InputSpec(TensorSpec):
    dtype: NumericDType = "float64"
    allow_nan: bool = False


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GoldenPair(BaseModel):
    """An input batch and the output the trained model gave for it at training time."""

    model_config = ConfigDict(extra="forbid")

    input: list[list[float]]
    output: list[list[Any]]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str
    version: str = "1"
    description: str = ""
    framework: Framework
    framework_version: str
    python_version: str
    artifacts: list[Artifact] = Field(min_length=1)
    inputs: InputSpec
    outputs: TensorSpec
    golden: list[GoldenPair] = Field(default_factory=list)
    tolerance: float = Field(default=1e-6, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        path = Path(model_dir) / MANIFEST_FILE
        try:
            return cls.model_validate_json(path.read_bytes())
        except FileNotFoundError as exc:
            raise ManifestError(f"no {MANIFEST_FILE} in {model_dir}") from exc
        except ValidationError as exc:
            raise ManifestError(f"{path} is not a valid manifest: {exc}") from exc

    def write(self, model_dir: Path) -> Path:
        path = Path(model_dir) / MANIFEST_FILE
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n")
        return path

    def artifact_mismatches(self, model_dir: Path) -> list[str]:
        """Names every artifact file that is missing or whose sha256 differs from the record."""
        problems = []
        for artifact in self.artifacts:
            file = Path(model_dir) / artifact.path
            if not file.is_file():
                problems.append(f"{artifact.path}: missing")
            elif (actual := sha256_of(file)) != artifact.sha256:
                problems.append(
                    f"{artifact.path}: sha256 {actual} does not match the manifest's "
                    f"{artifact.sha256}"
                )
        return problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifacts_under(model_dir: Path, relative: str) -> list[Artifact]:
    """Records one file, or every file below a directory, relative to the model directory."""
    root = Path(model_dir)
    target = root / relative
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    return [Artifact(path=f.relative_to(root).as_posix(), sha256=sha256_of(f)) for f in files]


def golden_pairs(inputs: np.ndarray, outputs: np.ndarray, size: int = 3) -> list[GoldenPair]:
    """Splits a batch and its outputs into a few golden pairs (single rows and one batch)."""
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    if outputs.ndim == 1:
        outputs = outputs.reshape(-1, 1)
    pairs = [
        GoldenPair(input=inputs[i : i + 1].tolist(), output=outputs[i : i + 1].tolist())
        for i in range(min(size, len(inputs)))
    ]
    pairs.append(GoldenPair(input=inputs.tolist(), output=outputs.tolist()))
    return pairs


def python_version() -> str:
    return platform.python_version()
