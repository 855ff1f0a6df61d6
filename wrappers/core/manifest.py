"""manifest.json: what a model directory holds, how it was made, and what it must answer.

The manifest is the single source of truth for a model directory. The wrappers read it (cheaply,
before gunicorn forks) for metadata and the input contract, and again in ``load()`` to verify
the artifact hashes, the framework version and the golden pairs before a worker serves.
Golden pairs store wire values (what a client sends and receives), so their replay goes through
the same codecs and checks as a request. Manifests written before the typed contract
(``schema_version`` 1: one 2-D input, one 2-D output) are upgraded as they are read.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wrappers import codecs
from wrappers.contract import Spec, TensorSpec
from wrappers.errors import ManifestError

MANIFEST_FILE = "manifest.json"
#: where a model directory keeps the user's own modules that its artifact imports
CODE_DIR = "code"
SCHEMA_VERSION = 2
#: ``builtin``: a combiner or router of ``wrappers.frameworks.builtin``, from a JSON file
Framework = Literal[
    "sklearn", "tensorflow", "torch", "xgboost", "lightgbm", "sentence-transformers", "builtin"
]
#: the part a model directory plays in a Seldon inference graph; upper-cased, it is Seldon's
#: service type (``MODEL``, ``TRANSFORMER``, ``OUTPUT_TRANSFORMER``, ``ROUTER``, ``COMBINER``)
Kind = Literal["model", "transformer", "output_transformer", "router", "combiner"]


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GoldenPair(BaseModel):
    """Wire values by input and output name, and what the trained model answered for them."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]
    output: dict[str, Any]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    schema_version: Literal[2] = SCHEMA_VERSION
    name: str
    version: str = "1"
    description: str = ""
    kind: Kind = "model"
    framework: Framework
    framework_version: str
    python_version: str
    artifacts: list[Artifact] = Field(min_length=1)
    inputs: list[Spec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    golden: list[GoldenPair] = Field(default_factory=list)
    tolerance: float = Field(default=1e-6, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)
    #: what loading needs beyond the framework, so it travels with the hashes: the types
    #: beyond the allowlist that the artifact holds and its maker trusted (``--trust``) ...
    trusted_types: list[str] = Field(default_factory=list)
    #: ... the user's own modules it imports, under ``code/``, hashed as artifacts are ...
    code: list[Artifact] = Field(default_factory=list)
    #: ... and the packages it needs, pinned (what requirements.txt installs)
    requirements: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named_once(self) -> Manifest:
        for what, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"{what} repeat a name: {names}")
        for i, pair in enumerate(self.golden):
            if set(pair.input) != set(self.input_names):
                raise ValueError(f"golden pair {i} gives {sorted(pair.input)} as inputs")
        return self

    @property
    def node_type(self) -> str:
        """Seldon's type for a graph node of this kind (``output_transformer``:
        ``OUTPUT_TRANSFORMER``), as a SeldonDeployment's graph and the executor name it."""
        return self.kind.upper()

    @property
    def microservice_type(self) -> str:
        """``seldon-core-microservice --service-type`` for this kind: the graph's node type,
        except that Seldon serves an OUTPUT_TRANSFORMER node as a TRANSFORMER (its microservice
        has no other type for it; every method is served whatever the type)."""
        return "TRANSFORMER" if self.kind == "output_transformer" else self.node_type

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    @property
    def matrix(self) -> TensorSpec | None:
        """The input when it is one numeric ``[rows, features]`` matrix (the fast paths' case)."""
        (spec, *others) = self.inputs
        if others or not isinstance(spec, TensorSpec) or not spec.is_matrix:
            return None
        return spec

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        path = Path(model_dir) / MANIFEST_FILE
        try:
            document = json.loads(path.read_bytes())
            return cls.model_validate(upgrade(document))
        except FileNotFoundError as exc:
            raise ManifestError(f"no {MANIFEST_FILE} in {model_dir}") from exc
        except (ValueError, ValidationError) as exc:
            raise ManifestError(f"{path} is not a valid manifest: {exc}") from exc

    def write(self, model_dir: Path) -> Path:
        path = Path(model_dir) / MANIFEST_FILE
        document = self.model_dump(exclude_defaults=True)  # a spec's defaults are noise there
        for what in ("inputs", "outputs"):
            specs = getattr(self, what)
            document[what] = [
                {"kind": s.kind, **d} for s, d in zip(specs, document[what], strict=True)
            ]
        document = {"schema_version": SCHEMA_VERSION, **document}
        path.write_text(compact_numbers(json.dumps(document, indent=2)) + "\n")
        return path

    def artifact_mismatches(self, model_dir: Path) -> list[str]:
        """Names every artifact (or code) file that is missing or whose sha256 differs from
        the record."""
        problems = []
        for artifact in [*self.artifacts, *self.code]:
            file = Path(model_dir) / artifact.path
            if not file.is_file():
                problems.append(f"{artifact.path}: missing")
            elif (actual := sha256_of(file)) != artifact.sha256:
                problems.append(
                    f"{artifact.path}: sha256 {actual} does not match the manifest's "
                    f"{artifact.sha256}"
                )
        return problems


#: a JSON array of numbers (or null, true, false) that ``indent`` spread over one line each
NUMBER_ARRAY = re.compile(r"\[\s+([-+.\w]+(?:,\s+[-+.\w]+)*)\s+\]")


def compact_numbers(text: str) -> str:
    """Puts each array of numbers on one line: an image's golden pair stays a few hundred
    kilobytes instead of one line per pixel."""
    return NUMBER_ARRAY.sub(lambda m: "[" + re.sub(r",\s+", ", ", m[1]) + "]", text)


def upgrade(document: Any) -> Any:
    """A schema-1 manifest (one 2-D input and output, golden rows) in the current schema."""
    if not isinstance(document, dict) or "schema_version" in document:
        return document
    old_in, old_out = document.get("inputs"), document.get("outputs")
    if not isinstance(old_in, dict) or not isinstance(old_out, dict):
        return document
    # scikit-learn outputs are named by the method that gives them
    output = (document.get("options") or {}).get("method", "output")
    output = output if document.get("framework") == "sklearn" else "output"
    inputs = {"kind": "tensor", "name": "input", "dtype": "float64", **old_in}
    outputs = {"kind": "tensor", "name": output, **old_out}
    golden = [
        {"input": {"input": p.get("input")}, "output": {output: p.get("output")}}
        for p in document.get("golden", [])
    ]
    return {
        **document,
        "schema_version": SCHEMA_VERSION,
        "inputs": [inputs],
        "outputs": [outputs],
        "golden": golden,
    }


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


def golden_pairs(
    inputs: list[Spec],
    outputs: list[TensorSpec],
    sample: Mapping[str, Any],
    answers: Mapping[str, Any],
    size: int = 3,
) -> list[GoldenPair]:
    """A few single rows and the whole batch, each as the wire values of every input and output."""
    specs = [*inputs, *outputs]
    values = {**sample, **answers}
    rows = len(next(iter(sample.values())))
    cuts = [slice(i, i + 1) for i in range(min(size, rows))]
    cuts += [slice(0, rows)] if rows > 1 else []  # one row: the whole batch is that pair
    if any(isinstance(s, TensorSpec) and s.shape[0] != -1 for s in inputs):
        cuts = [slice(0, rows)]  # a fixed batch takes no single rows
    pairs = []
    for cut in cuts:
        wire = {s.name: codecs.encode(s, _rows(values[s.name], cut)) for s in specs}
        pairs.append(
            GoldenPair(
                input={s.name: wire[s.name] for s in inputs},
                output={s.name: wire[s.name] for s in outputs},
            )
        )
    return pairs


def _rows(value: Any, cut: slice) -> Any:
    if hasattr(value, "iloc"):
        return value.iloc[cut]
    return value[cut]


def python_version() -> str:
    return platform.python_version()
