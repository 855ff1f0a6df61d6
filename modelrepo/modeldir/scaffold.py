"""``modelrepo new``: turns a user's trained artifact into a model directory like those in models/.

Each framework's importer (``importers/``) places the artifact in the standard layout
(``model.skops``, ``saved_model/<version>/``, ``model.safetensors`` with the architecture's file),
converting what the user saved as a pickle into a format that runs no code as it loads, and
learns what it can about the input and output; flags fill in the rest. The golden pairs come
from calling the framework's model directly on sample rows, so the wrapper's replay compares
two independent paths. The directory is built next to its destination and moved there only
when complete. Every committed model directory's ``train.py`` builds it this way too
(``rebuild.py``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir import nodes, servingfiles
from modelrepo.modeldir.importers import Imported
from modelrepo.modeldir.importers import lightgbm as lightgbm_importer
from modelrepo.modeldir.importers import sentence_transformers as sentence_transformers_importer
from modelrepo.modeldir.importers import sklearn as sklearn_importer
from modelrepo.modeldir.importers import tensorflow as tensorflow_importer
from modelrepo.modeldir.importers import torch as torch_importer
from modelrepo.modeldir.importers import xgboost as xgboost_importer
from modelrepo.modeldir.request import FRAMEWORKS, NewModel, Step, quiet_step
from modelrepo.modeldir.samples import Sample, head_rows, kept_dtype, load_sample
from wrappers import codecs, wrapper_for
from wrappers.contract import Spec, TensorSpec
from wrappers.core.manifest import (
    MANIFEST_FILE,
    Manifest,
    artifacts_under,
    golden_pairs,
    python_version,
)
from wrappers.errors import InvalidInput, ScaffoldError
from wrappers.frameworks.torch.describe import DYNAMIC_BATCH

IMPORTERS = {
    "sklearn": sklearn_importer.import_artifact,
    "tensorflow": tensorflow_importer.import_artifact,
    "torch": torch_importer.import_artifact,
    "xgboost": xgboost_importer.import_artifact,
    "lightgbm": lightgbm_importer.import_artifact,
    "sentence-transformers": sentence_transformers_importer.import_artifact,
}
#: golden pairs keep at most this many sample rows, so manifests stay readable
MAX_SAMPLE_ROWS = 10
GENERATED_ROWS = 6
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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
        if nodes.is_builtin(request):
            manifest = nodes.build_builtin(request, work)
            manifest.write(work)
            servingfiles.write(manifest, work, request.deployment)
        else:
            manifest = _build(request, work, step)
        if destination.exists():
            shutil.rmtree(destination)  # --force, checked to be a model directory
        work.rename(destination)
    return manifest


def _check_request(request: NewModel) -> None:
    _check_node(request)
    if request.framework not in FRAMEWORKS and not nodes.is_builtin(request):
        raise ScaffoldError(f"framework must be one of {', '.join(FRAMEWORKS)}")
    if not NAME.match(request.model_name):
        raise ScaffoldError(
            f"{request.model_name!r} cannot name a Kubernetes resource: use lowercase letters, "
            "digits and '-' (at most 63), e.g. --name my-model"
        )
    if not request.version.isdigit() or int(request.version) < 1:
        raise ScaffoldError(f"--version must be a positive integer, got {request.version!r}")
    if request.artifact is not None and not Path(request.artifact).exists():
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


def _check_node(request: NewModel) -> None:
    """A built-in is made from flags alone; anything else from an artifact."""
    if nodes.is_builtin(request):
        if request.artifact is not None or request.framework not in (None, "builtin"):
            raise ScaffoldError("a built-in combiner or router is made from flags, not --artifact")
        if request.combine is not None and request.route is not None:
            raise ScaffoldError("--combine makes a combiner and --route a router: give one")
        return
    if request.artifact is None or request.framework is None:
        raise ScaffoldError("give --framework and --artifact, or --combine/--route for a built-in")
    if request.kind == "router":
        raise ScaffoldError("a router is built in: --route ab|epsilon-greedy|thompson")


def _build(request: NewModel, work: Path, step: Step) -> Manifest:
    sample = load_sample(request.sample).head(MAX_SAMPLE_ROWS) if request.sample else None
    imported = IMPORTERS[request.framework](request, work, step, sample)
    if imported.batch is not None and sample is not None:
        sample = sample.head(imported.batch)
    if request.kind == "combiner":
        return _build_stacking(request, imported, work)
    inputs = contract_inputs(request, imported, sample)
    inputs = with_ranges(with_batch(inputs, imported.batch), request.ranges, given=True)
    values, names = sample_values(inputs, sample)
    try:
        checked = codecs.read_inputs(inputs, values, names)
    except InvalidInput as exc:
        raise ScaffoldError(f"the sample does not fit the model's inputs: {exc.message}") from exc
    answers = golden_answers(imported, inputs, checked, step)
    if imported.ranges is not None:
        inferred = imported.ranges(checked)
        inputs = with_ranges(inputs, {k: v for k, v in inferred.items() if k not in request.ranges})
    outputs = contract_outputs(request, imported, answers)
    manifest = Manifest(
        name=request.model_name,
        version=request.version,
        description=request.description
        or f"{imported.kind} imported from {Path(request.artifact).name}.",
        kind=request.kind,  # type: ignore[arg-type]
        framework=request.framework,  # type: ignore[arg-type]
        framework_version=wrapper_for(request.framework).installed_version(),
        python_version=python_version(),
        # the hashes let every worker check it loads the very bytes imported here
        artifacts=[a for path in imported.artifacts for a in artifacts_under(work, path)],
        inputs=inputs,
        outputs=outputs,
        golden=golden_pairs(inputs, outputs, checked, {s.name: answers[s.name] for s in outputs}),
        tolerance=imported.tolerance if request.tolerance is None else request.tolerance,
        options=dict(imported.options),
        trusted_types=imported.trusted_types,
        code=[a for path in imported.code for a in artifacts_under(work, path)],
    )
    pinned = servingfiles.requirements_txt(manifest).splitlines()
    manifest.requirements = list(dict.fromkeys([*pinned, *imported.requirements]))
    manifest.write(work)
    servingfiles.write(manifest, work, request.deployment)
    return manifest


def _build_stacking(request: NewModel, imported: Imported, work: Path) -> Manifest:
    """A combiner whose final estimator was fitted on the children's outputs side by side."""
    child = nodes.child_output(request)
    children = request.children
    (output, *others) = imported.outputs or []
    width = imported.inputs[0].width if imported.inputs else None  # type: ignore[union-attr]
    if children is None or others or width != children * child.width:
        raise ScaffoldError(
            f"a stacking combiner's estimator takes --children N outputs of {child.width} "
            f"columns side by side and gives one output; it takes {width} columns"
        )

    def predict(value: np.ndarray) -> np.ndarray:
        return imported.predict({child.name: value})[output.name]

    manifest = Manifest(
        name=request.model_name,
        version=request.version,
        description=request.description or f"{imported.kind} over {children} children.",
        kind="combiner",
        framework=request.framework,  # type: ignore[arg-type]
        framework_version=wrapper_for(request.framework).installed_version(),
        python_version=python_version(),
        artifacts=[a for path in imported.artifacts for a in artifacts_under(work, path)],
        inputs=[child],
        outputs=[output],
        golden=nodes.combiner_golden(child, output, children, predict),
        tolerance=imported.tolerance if request.tolerance is None else request.tolerance,
        options={**imported.options, "children": children},
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
        if imported.batch is None:
            imported.predict({k: head_rows(v, 1) for k, v in checked.items()})
    except Exception as exc:  # answers the batch, not one row: a fixed batch dimension
        raise ScaffoldError(
            f"the model answers the {rows}-row sample but fails on one row "
            f"({type(exc).__name__}: {exc}); its batch looks fixed: a torch.export program "
            f"takes any batch when exported with {DYNAMIC_BATCH}"
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


def with_batch(inputs: list[Spec], batch: int | None) -> list[Spec]:
    """Tensor inputs whose first dimension is the one batch size the artifact takes."""
    if batch is None:
        return inputs
    return [
        s.model_copy(update={"shape": [batch, *s.shape[1:]]}) if isinstance(s, TensorSpec) else s
        for s in inputs
    ]


def with_ranges(
    inputs: list[Spec], ranges: dict[str, tuple[int, int]], given: bool = False
) -> list[Spec]:
    """Integer tensors with the ``minimum`` and ``maximum`` of ``ranges`` (by input name; ``""``
    for the only input). ``given``: the user's ``--range``, which must name integer tensors."""
    if "" in ranges:
        if len(inputs) > 1:
            raise ScaffoldError(
                f"the model takes the inputs {[s.name for s in inputs]}: "
                "say which one --range bounds, as INPUT=MIN:MAX"
            )
        ranges = {inputs[0].name: ranges[""]}
    unknown = [n for n in ranges if n not in {s.name for s in inputs}]
    if unknown and given:
        raise ScaffoldError(f"--range names {unknown}; the inputs are {[s.name for s in inputs]}")
    bounded = []
    for spec in inputs:
        if spec.name in ranges and not (isinstance(spec, TensorSpec) and spec.is_integer):
            if given:
                raise ScaffoldError(f"--range {spec.name}: only an integer tensor takes a range")
        elif spec.name in ranges:
            low, high = ranges[spec.name]
            spec = spec.model_copy(update={"minimum": low, "maximum": high})
        bounded.append(spec)
    return bounded


def _is_matrix(spec: Spec) -> bool:
    return isinstance(spec, TensorSpec) and spec.is_matrix


def tensor_like(name: str, array: Any, dtype: str) -> TensorSpec:
    """A tensor input with the sample's shape past the batch dimension."""
    array = np.asarray(array)
    kind = kept_dtype(array.dtype) or (dtype if array.dtype.kind == "f" else "string")
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
    kept = sample.dtype if sample is not None else None
    dtype = request.dtype or (base.dtype if base is not None else kept or imported.dtype)
    shape = [-1, len(names)]
    if base is not None:  # what else the model said of its input (allow_nan) stays
        return base.model_copy(update={"dtype": dtype, "shape": shape, "names": names})
    return TensorSpec(name="input", dtype=dtype, shape=shape, names=names)  # type: ignore[arg-type]


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
    rows = GENERATED_ROWS if spec.shape[0] == -1 else spec.shape[0]
    return generator.standard_normal((rows, *spec.shape[1:])).round(4)


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
