"""``modelrepo new``: turns a user's trained artifact into a model directory like those in models/.

Each framework's importer places the artifact in the standard layout (``model.skops``,
``saved_model/<version>/``, ``model.safetensors`` with the architecture's file), converting what
the user saved as a pickle into a format that runs no code as it loads, and learns what it can
about the input and output; flags fill in the rest. The golden pairs come from calling the
framework's model directly on sample rows, so the wrapper's replay compares two independent paths.
The directory is built next to its destination and moved there only when complete.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from modelrepo.modeldir import servingfiles
from modelrepo.modeldir.builder import build_manifest
from modelrepo.modeldir.deployment import DeploymentOptions
from modelrepo.modeldir.samples import Sample, head_rows, load_sample
from wrappers import codecs
from wrappers.contract import Spec, TensorSpec
from wrappers.core.formats import (
    SAFETENSORS_FILE,
    SKOPS_FILE,
    load_skops,
    save_safetensors,
    save_skops,
)
from wrappers.core.manifest import MANIFEST_FILE, Manifest
from wrappers.errors import (
    InvalidInput,
    ManifestError,
    ModelLoadError,
    ScaffoldError,
    UnsafeArtifact,
)
from wrappers.settings import Settings

FRAMEWORKS = ("sklearn", "tensorflow", "torch")
#: golden pairs keep at most this many sample rows, so manifests stay readable
MAX_SAMPLE_ROWS = 10
GENERATED_ROWS = 6
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: files the model directory writes itself; an architecture file may not take these names
RESERVED = {"MyModel.py", MANIFEST_FILE, "requirements.txt", "request.json", "deployment.yaml"}

Step = Callable[[str], AbstractContextManager[Any]]


@contextlib.contextmanager
def quiet_step(_: str) -> Iterator[None]:
    yield


@dataclass
class NewModel:
    """What ``modelrepo new`` was asked to build."""

    model_dir: Path
    framework: str
    artifact: Path
    name: str | None = None
    version: str = "1"
    description: str = ""
    features: list[str] | None = None
    n_features: int | None = None
    outputs: list[str] | None = None
    dtype: str | None = None
    sample: Path | None = None
    tolerance: float | None = None
    methods: list[str] | None = None
    module: str | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    deployment: DeploymentOptions = field(default_factory=DeploymentOptions)
    force: bool = False

    @property
    def model_name(self) -> str:
        return self.name or Path(self.model_dir).resolve().name


@dataclass
class Imported:
    """What an importer placed and learned; ``predict`` calls the framework's model directly
    on checked inputs by name and answers outputs by name."""

    artifacts: list[str]
    predict: Callable[[dict[str, Any]], dict[str, Any]]
    kind: str
    tolerance: float
    #: the contract as the artifact states it (None: from the sample or the flags)
    inputs: list[Spec] | None = None
    outputs: list[TensorSpec] | None = None
    #: the dtype of inputs that only the sample or the flags describe
    dtype: str = "float32"
    #: feature names the model was fitted with
    names: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)


def scaffold(request: NewModel, step: Step = quiet_step) -> Manifest:
    """Builds the model directory and returns its manifest."""
    _check_request(request)
    destination = Path(request.model_dir)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        prefix=f".{request.model_name}-", dir=destination.parent
    ) as tmp:
        work = Path(tmp) / "model"
        work.mkdir()
        manifest = _build(request, work, step)
        if destination.exists():
            shutil.rmtree(destination)  # --force, checked to be a model directory
        work.rename(destination)
    return manifest


def _check_request(request: NewModel) -> None:
    if request.framework not in FRAMEWORKS:
        raise ScaffoldError(f"framework must be one of {', '.join(FRAMEWORKS)}")
    if not NAME.match(request.model_name):
        raise ScaffoldError(
            f"{request.model_name!r} cannot name a Kubernetes resource: use lowercase letters, "
            "digits and '-' (at most 63), e.g. --name my-model"
        )
    if not request.version.isdigit() or int(request.version) < 1:
        raise ScaffoldError(f"--version must be a positive integer, got {request.version!r}")
    if not Path(request.artifact).exists():
        raise ScaffoldError(f"artifact {request.artifact} does not exist")
    destination = Path(request.model_dir)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        if not request.force:
            raise ScaffoldError(
                f"{destination} exists and is not empty; pass --force to replace it"
            )
        if not (destination / MANIFEST_FILE).is_file():
            raise ScaffoldError(
                f"{destination} holds no {MANIFEST_FILE}; --force only replaces a model directory"
            )
    if request.features and request.n_features and len(request.features) != request.n_features:
        raise ScaffoldError(
            f"--features names {len(request.features)} columns but --n-features is "
            f"{request.n_features}"
        )


def _build(request: NewModel, work: Path, step: Step) -> Manifest:
    sample = load_sample(request.sample).head(MAX_SAMPLE_ROWS) if request.sample else None
    importer = {"sklearn": import_sklearn, "tensorflow": import_tensorflow, "torch": import_torch}
    imported = importer[request.framework](request, work, step, sample)
    inputs = contract_inputs(request, imported, sample)
    values, names = sample_values(inputs, sample)
    try:
        checked = codecs.read_inputs(inputs, values, names)
    except InvalidInput as exc:
        raise ScaffoldError(f"the sample does not fit the model's inputs: {exc.message}") from exc
    answers = golden_answers(imported, inputs, checked, step)
    outputs = contract_outputs(request, imported, answers)
    manifest = build_manifest(
        work,
        name=request.model_name,
        framework=request.framework,
        artifacts=imported.artifacts,
        inputs=inputs,
        outputs=outputs,
        sample=checked,
        sample_output={s.name: answers[s.name] for s in outputs},
        version=request.version,
        description=request.description
        or f"{imported.kind} imported from {Path(request.artifact).name}.",
        tolerance=imported.tolerance if request.tolerance is None else request.tolerance,
        options=imported.options,
    )
    manifest.write(work)
    servingfiles.write(manifest, work, request.deployment)
    return manifest


def golden_answers(
    imported: Imported, inputs: list[Spec], checked: dict[str, Any], step: Step
) -> dict[str, np.ndarray]:
    """The user's model on the checked sample: finite answers, and an answer for one row too."""
    rows = codecs.rows_of(next(iter(checked.values())))
    with step(f"computing golden outputs for {rows} sample rows"):
        try:
            answers = {k: np.asarray(v) for k, v in imported.predict(checked).items()}
        except Exception as exc:  # the user's model: whatever it raises, say where
            (first, *others) = inputs
            matrix = not others and isinstance(first, TensorSpec) and first.is_matrix
            given = (
                f"sample rows of {first.width} features"  # type: ignore[union-attr]
                if matrix
                else f"the sample inputs {[s.name for s in inputs]}"
            )
            raise ScaffoldError(
                f"the model fails on {given} ({type(exc).__name__}: {exc}); check "
                "--n-features, --features or --sample"
            ) from exc
    try:
        imported.predict({k: head_rows(v, 1) for k, v in checked.items()})
    except Exception as exc:  # answers the batch, not one row: a fixed batch dimension
        raise ScaffoldError(
            f"the model answers the {rows}-row sample but fails on one row "
            f"({type(exc).__name__}: {exc}); a torch.export program needs a free batch "
            "dimension: dynamic_shapes={0: torch.export.Dim('batch')} and an example of 2+ rows"
        ) from exc
    if any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in answers.values()):
        raise ScaffoldError(
            "the model answers NaN or infinity on the sample rows; "
            "pass --sample with realistic rows"
        )
    return answers


# ---- contract ----------------------------------------------------------------------------------


def contract_inputs(request: NewModel, imported: Imported, sample: Sample | None) -> list[Spec]:
    """The artifact's own contract; a single matrix completed from the flags and the sample;
    else tensors shaped like the sample's arrays."""
    known = imported.inputs
    single_matrix = known is not None and len(known) == 1 and _is_matrix(known[0])
    if known is not None and not single_matrix:
        return known
    if known is None and sample is not None:
        if sample.named is not None:
            dtype = request.dtype or imported.dtype
            return [tensor_like(name, array, dtype) for name, array in sample.named.items()]
        if np.ndim(sample.value) != 2:
            return [tensor_like("input", sample.value, request.dtype or imported.dtype)]
    base = known[0] if known else None
    return [matrix_spec(request, imported, sample, base)]  # type: ignore[arg-type]


def _is_matrix(spec: Spec) -> bool:
    return isinstance(spec, TensorSpec) and spec.is_matrix


def tensor_like(name: str, array: Any, dtype: str) -> TensorSpec:
    """A tensor input with the sample's shape past the batch dimension."""
    array = np.asarray(array)
    kind = {"f": dtype, "i": "int64", "u": "int64", "b": "bool"}.get(array.dtype.kind, "string")
    if array.ndim < 1:
        raise ScaffoldError(f"the sample for {name} is a scalar; give a batch of rows")
    return TensorSpec(name=name, dtype=kind, shape=[-1, *array.shape[1:]])  # type: ignore[arg-type]


def matrix_spec(
    request: NewModel, imported: Imported, sample: Sample | None, base: TensorSpec | None
) -> TensorSpec:
    """Feature names and width from the flags, else the model, else the sample file."""
    names = request.features
    if names is None and request.n_features:
        names = [f"x{i}" for i in range(request.n_features)]
    if names is not None and imported.names and names != imported.names:
        raise ScaffoldError(
            f"the model was fitted with the feature names {imported.names}; "
            "leave out --features or pass the same names"
        )
    header = sample.names if sample is not None else None
    names = names or imported.names or header
    width = base.width if base is not None and base.width > 0 else None
    if names is None and width is None and sample is not None:
        width = int(np.shape(sample.value)[1])
    if names is None and width is not None:
        names = [f"x{i}" for i in range(width)]
    if names is None:
        raise ScaffoldError(
            f"cannot tell how many features this {request.framework} model takes: "
            "pass --n-features N, --features a,b,c or --sample rows.csv"
        )
    if width is not None and len(names) != width:
        raise ScaffoldError(f"the model takes {width} features, but {len(names)} are named")
    dtype = request.dtype or (base.dtype if base is not None else imported.dtype)
    name = base.name if base is not None else "input"
    return TensorSpec(name=name, dtype=dtype, shape=[-1, len(names)], names=names)  # type: ignore[arg-type]


def sample_values(
    inputs: list[Spec], sample: Sample | None
) -> tuple[dict[str, Any], dict[str, list[str] | None]]:
    """The sample's values by input name, or generated rows for tensors without a sample."""
    if sample is None:
        return {s.name: generated(s) for s in inputs}, {}
    if sample.named is not None:
        return dict(sample.named), {}
    if len(inputs) > 1:
        raise ScaffoldError(
            f"the model takes the inputs {[s.name for s in inputs]}: pass --sample as a .npz "
            "or a .json object with one array per input"
        )
    (spec,) = inputs
    names = sample.names if isinstance(spec, TensorSpec) and spec.names else None
    return {spec.name: sample.value}, {spec.name: names}


def generated(spec: Spec) -> np.ndarray:
    """Deterministic standard-normal rows for a numeric tensor of fixed shape."""
    if not isinstance(spec, TensorSpec) or spec.dtype in ("string", "bool") or -1 in spec.shape[1:]:
        raise ScaffoldError(
            f"{spec.name}: pass --sample with example inputs; rows cannot be made up for it"
        )
    generator = np.random.default_rng(0)
    return generator.standard_normal((GENERATED_ROWS, *spec.shape[1:])).round(4)


def contract_outputs(
    request: NewModel, imported: Imported, answers: dict[str, np.ndarray]
) -> list[TensorSpec]:
    """The artifact's outputs, else ones shaped like the answers; ``--outputs`` names the
    columns of a single output."""
    outputs = imported.outputs or [
        TensorSpec(name=name, dtype=_dtype_name(a.dtype), shape=[-1, *a.shape[1:]])  # type: ignore[arg-type]
        for name, a in answers.items()
    ]
    missing = [s.name for s in outputs if s.name not in answers]
    if missing:
        raise ScaffoldError(f"the model did not answer the outputs {missing}")
    if request.outputs is None:
        return outputs
    (single, *others) = outputs
    width = answers[single.name].reshape(len(answers[single.name]), -1).shape[1]
    if others or len(request.outputs) != width:
        raise ScaffoldError(
            f"the model gives {len(outputs)} output(s) of {width} columns, but --outputs names "
            f"{len(request.outputs)}: {request.outputs}"
        )
    return [single.model_copy(update={"names": request.outputs, "shape": [-1, width]})]


def _dtype_name(dtype: np.dtype) -> str:
    return "string" if dtype.kind in "USO" else str(dtype)


# ---- importers ---------------------------------------------------------------------------------


def import_sklearn(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """A fitted estimator or Pipeline saved with joblib (or skops), stored as skops; its fitted
    attributes (and the sample's column types) give the contract."""
    from wrappers.frameworks.sklearn.describe import METHODS, describe_outputs, input_spec
    from wrappers.frameworks.sklearn.model import SklearnModel

    with step("loading the scikit-learn estimator"):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        estimator = _read_estimator(Path(request.artifact))
    kind = type(estimator).__name__
    if not hasattr(estimator, "predict"):
        raise ScaffoldError(f"{request.artifact} holds a {kind}, not an estimator with predict()")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ScaffoldError(f"{request.artifact} holds an unfitted {kind}: fit it first") from exc
    except TypeError:
        pass  # not a scikit-learn estimator class; predict() will tell
    missing = [m for m in request.methods or [] if m not in METHODS or not hasattr(estimator, m)]
    if missing:
        usable = [m for m in METHODS if hasattr(estimator, m)]
        raise ScaffoldError(f"{kind} cannot serve --method {missing[0]}; use any of {usable}")
    outputs, options = describe_outputs(estimator, request.methods)
    with step(f"converting {kind} to {SKOPS_FILE}"):
        stored = _stored_as_skops(estimator, work / SKOPS_FILE)
    try:
        inputs: list[Spec] | None = [
            input_spec(estimator, sample.value if sample is not None else None)
        ]
    except ManifestError as exc:
        if not (request.n_features or request.features):
            raise ScaffoldError(f"{exc}: pass --n-features N or --sample rows.csv") from exc
        inputs = None  # a matrix of the flags' width

    def answers(model: Any, X: Any) -> dict[str, np.ndarray]:
        return {o.name: np.asarray(getattr(model, o.name)(X)).reshape(len(X), -1) for o in outputs}

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        """The user's estimator; the skops copy must answer exactly the same."""
        (X,) = checked.values()
        expected, actual = answers(estimator, X), answers(stored, X)
        for name, value in expected.items():
            if not np.array_equal(value, actual[name]):
                raise ScaffoldError(
                    f"the estimator read back from {SKOPS_FILE} answers {name} "
                    "differently from the original"
                )
        return expected

    fitted = getattr(estimator, "feature_names_in_", None)
    return Imported(
        artifacts=[SklearnModel.artifact_file],
        predict=predict,
        kind=kind,
        tolerance=1e-9,
        inputs=inputs,
        outputs=outputs,
        dtype="float64",
        names=[str(n) for n in fitted] if fitted is not None else None,
        options=options,
    )


def _read_estimator(artifact: Path) -> Any:
    """The user's estimator: a skops file against the allowlist, else their joblib pickle,
    unpickled here, once, on the machine that made it."""
    if artifact.suffix == ".skops":
        try:
            return load_skops(artifact, Settings.resolve({}).trusted_types)
        except UnsafeArtifact as exc:
            raise ScaffoldError(str(exc)) from exc
        except Exception as exc:  # skops raises many types for a bad file
            raise ScaffoldError(f"{artifact} is not a skops file: {exc}") from exc
    import joblib

    try:
        return joblib.load(artifact)
    except Exception as exc:  # any unpickling failure means: not a joblib estimator
        raise ScaffoldError(f"{artifact} is not a joblib file: {exc}") from exc


def _stored_as_skops(estimator: Any, path: Path) -> Any:
    """Writes ``path`` and reads it back as the server will (the allowlist, no pickle)."""
    try:
        save_skops(estimator, path)
    except Exception as exc:  # skops cannot represent some objects (lambdas, open files)
        raise ScaffoldError(
            f"{type(estimator).__name__} cannot be stored as skops ({type(exc).__name__}: "
            f"{exc}); a model that holds Python functions cannot be served without pickle"
        ) from exc
    try:
        return load_skops(path, Settings.resolve({}).trusted_types)
    except UnsafeArtifact as exc:
        raise ScaffoldError(str(exc)) from exc


def import_tensorflow(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """A Keras model file (exported to a SavedModel) or a SavedModel directory (copied); the
    serving signature gives every named input and output."""
    from wrappers.frameworks.tensorflow.describe import describe, texts_decoded

    artifact = Path(request.artifact)
    target = work / "saved_model" / request.version
    target.parent.mkdir()
    with step("importing TensorFlow"):
        import tensorflow as tf
    model = None
    if artifact.is_dir():
        if not (artifact / "saved_model.pb").is_file():
            raise ScaffoldError(f"{artifact} is a directory without saved_model.pb")
        with step(f"copying the SavedModel to saved_model/{request.version}"):
            shutil.copytree(artifact, target)
        kind = "SavedModel"
    elif artifact.suffix == ".keras":
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
        with step(f"exporting a SavedModel to saved_model/{request.version}"):
            model.export(str(target), verbose=False)
        kind = f"Keras {type(model).__name__}"
    elif artifact.suffix == ".h5":
        raise ScaffoldError(
            f"{artifact}: HDF5 (.h5) models are not served; save the model as .keras "
            "(model.save('m.keras')) or export a SavedModel (model.export(dir))"
        )
    else:
        raise ScaffoldError(f"{artifact}: expected a .keras file or a SavedModel directory")
    with step("reading the serving signature"):
        try:
            inputs, outputs = describe(target)
        except ManifestError as exc:
            raise ScaffoldError(f"{artifact}: {exc}") from exc
        serve = tf.saved_model.load(str(target)).signatures["serving_default"]

    def via_signature(checked: dict[str, Any]) -> dict[str, Any]:
        answers = serve(**{k: tf.constant(v) for k, v in checked.items()})
        return {k: texts_decoded(v.numpy()) for k, v in answers.items()}

    names = [s.name for s in outputs]

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        """The Keras model itself, not the export, so that the golden replay checks the export;
        the export's signature where the model's result cannot be matched to its outputs."""
        if model is None:
            return via_signature(checked)
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

    return Imported(
        artifacts=[f"saved_model/{request.version}"],
        predict=predict,
        kind=kind,
        tolerance=1e-4,
        inputs=list(inputs),
        outputs=outputs,
        options={"saved_model": "saved_model", "signature": "serving_default"},
    )


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


def import_torch(request: NewModel, work: Path, step: Step, sample: Sample | None) -> Imported:
    """A state dict or checkpoint dict with the ``file.py:Class`` that rebuilds the network
    (stored as safetensors), or a ``torch.export`` program (``.pt2``), copied as it is: torch
    unpickles parts of such a program as it loads, so it is served only with ``allow_pickle``."""
    from wrappers.frameworks.torch.describe import name_outputs

    with step("importing torch"):
        import torch
    if Path(request.artifact).suffix == ".pt2":
        shutil.copyfile(request.artifact, work / "model.pt2")
        with step("loading the exported program"):
            try:
                network = torch.export.load(work / "model.pt2").module()
            except Exception as exc:  # torch raises many types for a bad program
                raise ScaffoldError(
                    f"{request.artifact} does not load as a torch.export program: {exc}"
                ) from exc
        artifacts, options = ["model.pt2"], {"program": "model.pt2"}
        kind = "torch.export program"
    else:
        network, artifacts, options = _torch_state_dict(request, work, step)
        kind = f"torch {request.module.partition(':')[2]}"  # type: ignore[union-attr]

    def predict(checked: dict[str, Any]) -> dict[str, Any]:
        tensors = [torch.from_numpy(np.ascontiguousarray(v)) for v in checked.values()]
        with torch.inference_mode():
            return name_outputs(network(*tensors))

    return Imported(
        artifacts=artifacts, predict=predict, kind=kind, tolerance=1e-5, options=options
    )


def _torch_state_dict(
    request: NewModel, work: Path, step: Step
) -> tuple[Any, list[str], dict[str, Any]]:
    import torch

    from wrappers.frameworks.torch.model import build_network, load_weights, read_checkpoint

    if not request.module:
        raise ScaffoldError(
            "a torch model needs its architecture: --module network.py:ClassName "
            "(or a torch.export .pt2 program)"
        )
    file_name, _, class_name = request.module.partition(":")
    source = Path(file_name)
    if not class_name or source.suffix != ".py" or not source.is_file():
        raise ScaffoldError(f"--module {request.module}: expected an existing file.py:ClassName")
    if source.name in RESERVED:
        raise ScaffoldError(f"--module: rename {source.name}, the model directory writes that file")
    shutil.copyfile(source, work / source.name)
    architecture = f"{source.name}:{class_name}"
    with step(f"rebuilding {class_name} and loading its weights"):
        try:
            network = build_network(work, architecture, request.init_kwargs)
        except ModelLoadError:
            raise
        except Exception as exc:  # the user's module: import or constructor errors
            raise ScaffoldError(
                f"--module {request.module}: cannot build {class_name}"
                f"(**{request.init_kwargs}): {type(exc).__name__}: {exc}"
            ) from exc
        try:
            checkpoint = read_checkpoint(Path(request.artifact))
        except Exception as exc:  # torch raises many types for a bad or unsafe file
            raise ScaffoldError(f"{request.artifact} does not load as a state dict: {exc}") from exc
        if not isinstance(checkpoint, dict):
            raise ScaffoldError(
                f"{request.artifact} holds a {type(checkpoint).__name__}; save the state dict: "
                "torch.save(model.state_dict(), path)"
            )
        load_weights(network, checkpoint)
        network.eval()
    state = checkpoint.get("model_state_dict", checkpoint)
    other = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if other:
        raise ScaffoldError(f"{request.artifact}: the state dict holds non-tensors at {other}")
    with step(f"storing the weights as {SAFETENSORS_FILE}"):
        save_safetensors(state, work / SAFETENSORS_FILE)
    options: dict[str, Any] = {"architecture": architecture, "checkpoint": SAFETENSORS_FILE}
    if request.init_kwargs:
        options["init_kwargs"] = request.init_kwargs
    return network, [SAFETENSORS_FILE, source.name], options


def rebuild_command(
    name: str, description: str, make: Callable[[Path], list[str]], model_dir: Path
) -> click.Command:
    """The command line of a model directory's ``train.py``: ``make`` trains and saves the
    user's artifact and sample in a temporary directory and returns the ``modelrepo new``
    arguments for them; ``modelrepo new`` then runs as a user would run it (its own process)
    and its directory is copied into ``--out``, beside the files it does not write (train.py,
    README.md), with no stale artifact directory left behind."""

    @click.command()
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=model_dir)
    def main(out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            made = Path(tmp) / "model"
            args = make(Path(tmp))
            flags = ["--name", name, "--description", description]
            command = [sys.executable, "-m", "modelrepo.cli", "new", str(made), *args, *flags]
            subprocess.run(command, check=True)
            out.mkdir(parents=True, exist_ok=True)
            for directory in (p for p in made.iterdir() if p.is_dir()):
                shutil.rmtree(out / directory.name, ignore_errors=True)
            shutil.copytree(made, out, dirs_exist_ok=True)
        click.echo(f"{name} written to {out}")

    return main
