"""``modelrepo new``: turns a user's trained artifact into a model directory like those in models/.

Each framework's importer places the artifact in the standard layout (``model.joblib``,
``saved_model/<version>/``, ``model.pt`` with the architecture's file) and learns what it can
about the input and output; flags fill in the rest. The golden pairs come from calling the
framework's model directly on sample rows, so the wrapper's replay compares two independent paths.
The directory is built next to its destination and moved there only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np

from wrappers import servingfiles
from wrappers.builder import build_manifest
from wrappers.deployment import DeploymentOptions
from wrappers.errors import InvalidInput, ModelLoadError, ScaffoldError
from wrappers.manifest import MANIFEST_FILE, InputSpec, Manifest, NumericDType, TensorSpec
from wrappers.validation import validate_input

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
    method: str | None = None
    module: str | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    deployment: DeploymentOptions = field(default_factory=DeploymentOptions)
    force: bool = False

    @property
    def model_name(self) -> str:
        return self.name or Path(self.model_dir).resolve().name


@dataclass
class Imported:
    """What an importer placed and learned; ``predict`` calls the framework's model directly."""

    artifacts: list[str]
    predict: Callable[[np.ndarray], Any]
    kind: str
    dtype: str
    tolerance: float
    width: int | None = None
    names: list[str] | None = None
    output_names: list[str] | None = None
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
    importer = {"sklearn": import_sklearn, "tensorflow": import_tensorflow, "torch": import_torch}
    imported = importer[request.framework](request, work, step)
    rows, header = load_sample(request.sample) if request.sample else (None, None)
    inputs = input_spec(request, imported, rows, header)
    if rows is None:
        generator = np.random.default_rng(0)
        rows = generator.standard_normal((GENERATED_ROWS, inputs.width)).round(4)
    try:
        batch = validate_input(rows[:MAX_SAMPLE_ROWS], None, inputs)
    except InvalidInput as exc:
        raise ScaffoldError(f"sample rows: {exc.message}") from exc
    with step(f"computing golden outputs for {len(batch)} sample rows"):
        try:
            output = np.asarray(imported.predict(batch))
        except Exception as exc:  # the user's model: whatever it raises, say where
            raise ScaffoldError(
                f"the model fails on sample rows of {inputs.width} features "
                f"({type(exc).__name__}: {exc}); check --n-features, --features or --sample"
            ) from exc
    output = output.reshape(len(batch), -1)
    if output.dtype.kind in "fc" and not np.isfinite(output).all():
        raise ScaffoldError(
            "the model answers NaN or infinity on the sample rows; "
            "pass --sample with realistic rows"
        )
    outputs = TensorSpec(
        names=output_names(request, imported, output.shape[1]),
        dtype=_dtype_name(output.dtype),
        shape=[-1, output.shape[1]],
    )
    manifest = build_manifest(
        work,
        name=request.model_name,
        framework=request.framework,
        artifacts=imported.artifacts,
        inputs=inputs,
        outputs=outputs,
        sample=batch,
        sample_output=output,
        version=request.version,
        description=request.description
        or f"{imported.kind} imported from {Path(request.artifact).name}.",
        tolerance=imported.tolerance if request.tolerance is None else request.tolerance,
        options=imported.options,
    )
    manifest.write(work)
    servingfiles.write(manifest, work, request.deployment)
    return manifest


# ---- schema ------------------------------------------------------------------------------------


def input_spec(
    request: NewModel, imported: Imported, rows: np.ndarray | None, header: list[str] | None
) -> InputSpec:
    """Feature names and width from the flags, else the model, else the sample file."""
    names = request.features
    if names is None and request.n_features:
        names = [f"x{i}" for i in range(request.n_features)]
    if names is not None and imported.names and names != imported.names:
        raise ScaffoldError(
            f"the model was fitted with the feature names {imported.names}; "
            "leave out --features or pass the same names"
        )
    names = names or imported.names or header
    width = imported.width
    if names is None and width is None and rows is not None:
        width = rows.shape[1]
    if names is None and width is not None:
        names = [f"x{i}" for i in range(width)]
    if names is None:
        raise ScaffoldError(
            f"cannot tell how many features this {request.framework} model takes: "
            "pass --n-features N, --features a,b,c or --sample rows.csv"
        )
    if width is not None and len(names) != width:
        raise ScaffoldError(f"the model takes {width} features, but {len(names)} are named")
    dtype = request.dtype or imported.dtype
    if dtype not in get_args(NumericDType):
        raise ScaffoldError(
            f"the model takes {dtype} inputs; served inputs are one of {get_args(NumericDType)}"
        )
    return InputSpec(names=names, dtype=dtype, shape=[-1, len(names)])


def output_names(request: NewModel, imported: Imported, width: int) -> list[str]:
    for names in (request.outputs, imported.output_names):
        if names is not None:
            if len(names) != width:
                raise ScaffoldError(
                    f"the model gives {width} output columns, but {len(names)} names: {names}"
                )
            return names
    return ["output"] if width == 1 else [f"output_{i}" for i in range(width)]


def _dtype_name(dtype: np.dtype) -> str:
    return "string" if dtype.kind in "USO" else str(dtype)


# ---- sample rows -------------------------------------------------------------------------------


def load_sample(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """Rows from a ``.json`` (rows, or a Seldon request), ``.npy`` or ``.csv`` file, and the
    column names when the file carries them."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            rows, names = np.load(path, allow_pickle=False), None
        elif suffix == ".json":
            rows, names = _json_rows(json.loads(path.read_text()))
        elif suffix == ".csv":
            rows, names = _csv_rows(path)
        else:
            raise ScaffoldError(f"--sample {path}: expected a .json, .npy or .csv file")
        array = np.asarray(rows)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ScaffoldError):
            raise
        raise ScaffoldError(f"--sample {path}: {exc}") from exc
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        raise ScaffoldError(f"--sample {path}: expected rows of features, got shape {array.shape}")
    return array, names


def _json_rows(document: Any) -> tuple[Any, list[str] | None]:
    if isinstance(document, dict):
        data = document.get("data", {})
        if "ndarray" not in data:
            raise ScaffoldError('a JSON sample is a list of rows or {"data": {"ndarray": rows}}')
        return data["ndarray"], data.get("names")
    return document, None


def _csv_rows(path: Path) -> tuple[list[list[float]], list[str] | None]:
    with open(path, newline="") as handle:
        lines = [row for row in csv.reader(handle) if row]
    header = None
    if lines and not all(_is_float(cell) for cell in lines[0]):
        header, lines = [cell.strip() for cell in lines[0]], lines[1:]
    return [[float(cell) for cell in row] for row in lines], header


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---- importers ---------------------------------------------------------------------------------


def import_sklearn(request: NewModel, work: Path, step: Step) -> Imported:
    """A fitted estimator saved with joblib; its fitted attributes give the schema."""
    from wrappers.sklearn_model import METHODS, SklearnModel

    with step("loading the scikit-learn estimator"):
        import joblib
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            estimator = joblib.load(request.artifact)
        except Exception as exc:  # any unpickling failure means: not a joblib estimator
            raise ScaffoldError(f"{request.artifact} is not a joblib file: {exc}") from exc
    kind = type(estimator).__name__
    if not hasattr(estimator, "predict"):
        raise ScaffoldError(f"{request.artifact} holds a {kind}, not an estimator with predict()")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ScaffoldError(f"{request.artifact} holds an unfitted {kind}: fit it first") from exc
    except TypeError:
        pass  # not a scikit-learn estimator class; predict() will tell
    method = request.method or (
        "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    )
    if method not in METHODS or not hasattr(estimator, method):
        usable = [m for m in METHODS if hasattr(estimator, m)]
        raise ScaffoldError(f"{kind} cannot serve --method {method}; use one of {usable}")
    shutil.copyfile(request.artifact, work / SklearnModel.artifact_file)
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    names = getattr(estimator, "feature_names_in_", None)
    options: dict[str, Any] = {"method": method}
    if classes:
        options["classes"] = classes
    labels = ["class"] if classes else None
    outputs = (classes or None) if method == "predict_proba" else labels
    return Imported(
        artifacts=[SklearnModel.artifact_file],
        predict=getattr(estimator, method),
        kind=kind,
        dtype="float64",
        tolerance=1e-9,
        width=getattr(estimator, "n_features_in_", None),
        names=[str(n) for n in names] if names is not None else None,
        output_names=outputs,
        options=options,
    )


def import_tensorflow(request: NewModel, work: Path, step: Step) -> Imported:
    """A Keras model file (exported to a SavedModel) or a SavedModel directory (copied)."""
    artifact = Path(request.artifact)
    target = work / "saved_model" / request.version
    target.parent.mkdir()
    with step("importing TensorFlow"):
        import tensorflow as tf
    direct = None
    if artifact.is_dir():
        if not (artifact / "saved_model.pb").is_file():
            raise ScaffoldError(f"{artifact} is a directory without saved_model.pb")
        with step(f"copying the SavedModel to saved_model/{request.version}"):
            shutil.copytree(artifact, target)
        kind = "SavedModel"
    elif artifact.suffix in (".keras", ".h5"):
        with step("loading the Keras model"):
            import keras

            try:
                model = keras.saving.load_model(artifact, compile=False)
            except Exception as exc:  # Keras raises many types for a bad file
                raise ScaffoldError(f"{artifact} does not load as a Keras model: {exc}") from exc
        with step(f"exporting a SavedModel to saved_model/{request.version}"):
            model.export(str(target), verbose=False)
        kind = f"Keras {type(model).__name__}"

        def direct(batch: np.ndarray) -> np.ndarray:
            return np.asarray(model(batch, training=False))

    else:
        raise ScaffoldError(f"{artifact}: expected a .keras file or a SavedModel directory")
    with step("reading the serving signature"):
        loaded = tf.saved_model.load(str(target))
        if "serving_default" not in loaded.signatures:
            raise ScaffoldError(f"{artifact} has no serving_default signature")
        serve = loaded.signatures["serving_default"]
        _, inputs = serve.structured_input_signature
        outputs = serve.structured_outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise ScaffoldError(
            f"the serving signature takes {sorted(inputs)} and gives {sorted(outputs)}; "
            "one input and one output are supported"
        )
    (input_key, spec), output_key = *inputs.items(), *outputs
    if spec.shape.rank != 2:
        raise ScaffoldError(f"the model takes inputs of shape {spec.shape}; [batch, features] only")
    width = spec.shape[-1]

    def via_signature(batch: np.ndarray) -> np.ndarray:
        return serve(**{input_key: tf.constant(batch)})[output_key].numpy()

    return Imported(
        artifacts=[f"saved_model/{request.version}"],
        predict=direct or via_signature,
        kind=kind,
        dtype=spec.dtype.name,
        tolerance=1e-4,
        width=int(width) if width is not None else None,
        options={"saved_model": "saved_model", "signature": "serving_default"},
    )


def import_torch(request: NewModel, work: Path, step: Step) -> Imported:
    """A state dict or checkpoint dict, and the ``file.py:Class`` that rebuilds the network."""
    from wrappers.torch_model import build_network, load_weights

    if not request.module:
        raise ScaffoldError("a torch model needs its architecture: --module network.py:ClassName")
    file_name, _, class_name = request.module.partition(":")
    source = Path(file_name)
    if not class_name or source.suffix != ".py" or not source.is_file():
        raise ScaffoldError(f"--module {request.module}: expected an existing file.py:ClassName")
    if source.name in RESERVED:
        raise ScaffoldError(f"--module: rename {source.name}, the model directory writes that file")
    with step("importing torch"):
        import torch
    shutil.copyfile(source, work / source.name)
    shutil.copyfile(request.artifact, work / "model.pt")
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
            checkpoint = torch.load(work / "model.pt", map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad or unsafe file
            raise ScaffoldError(f"{request.artifact} does not load as a state dict: {exc}") from exc
        if not isinstance(checkpoint, dict):
            raise ScaffoldError(
                f"{request.artifact} holds a {type(checkpoint).__name__}; save the state dict: "
                "torch.save(model.state_dict(), path)"
            )
        load_weights(network, checkpoint)
        network.eval()

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return network(torch.from_numpy(batch)).numpy()

    options: dict[str, Any] = {"architecture": architecture, "checkpoint": "model.pt"}
    if request.init_kwargs:
        options["init_kwargs"] = request.init_kwargs
    return Imported(
        artifacts=["model.pt", source.name],
        predict=predict,
        kind=f"torch {class_name}",
        dtype="float32",
        tolerance=1e-5,
        options=options,
    )
