"""``modelrepo new``: a model directory from a trained artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import click
from rich.markup import escape

from modelrepo.cli.check import run_checks
from modelrepo.cli.errors import EXIT_CODES
from modelrepo.cli.options import (
    json_object_option,
    methods_option,
    names_option,
    ranges_option,
    weights_option,
)
from modelrepo.cli.output import progress, stderr
from modelrepo.modeldir.deployment import DeploymentOptions
from modelrepo.modeldir.request import FRAMEWORKS, NewModel
from modelrepo.modeldir.scaffold import scaffold
from wrappers.contract import Spec, TableSpec, TensorSpec
from wrappers.core.combine import Combine
from wrappers.core.manifest import Kind
from wrappers.core.routing import Route
from wrappers.frameworks.sklearn.describe import METHODS

NEW_EXAMPLES = """\b
Examples:
  modelrepo new my-model --framework sklearn --artifact m.joblib
  modelrepo new prep --kind transformer -f sklearn -a column_transformer.joblib --sample rows.csv
  modelrepo new mean --kind combiner --combine mean --children 2 --like models/sklearn-iris
  modelrepo new ab --kind router --route epsilon-greedy --epsilon 0.1 --children 2 --seed 0 \\
      --like models/sklearn-iris
  modelrepo new stack --kind combiner -f sklearn -a final.joblib --children 2 --like child-dir
  modelrepo new my-model -f sklearn -a m.joblib --sample rows.csv --method predict
  modelrepo new my-model -f sklearn -a m.joblib --code features.py --trust features.add_ratio
  modelrepo new my-net -f tensorflow -a net.keras --features age,bmi,bp --outputs risk
  modelrepo new my-net -f tensorflow -a exported_saved_model_dir --n-features 10
  modelrepo new my-torch -f torch -a model.pt --module network.py:Net --n-features 10
  modelrepo new my-xgb -f xgboost -a model.ubj --sample rows.csv
  modelrepo new my-lgbm -f lightgbm -a model.txt --sample rows.csv

\b
What each framework infers (flags fill in the rest):
  sklearn     features from n_features_in_ / feature_names_in_, outputs from classes_
  tensorflow  features and dtype from the serving signature; a .keras file is exported
  torch       the range of integer ids that feed an nn.Embedding, a program's fixed batch;
              give --n-features or --features (or a --sample file: a .npy keeps its dtype)
  xgboost     features, categories and outputs from the saved Booster and its objective
  lightgbm    features, categories (pandas_categorical) and outputs from the objective
Without --sample, six deterministic standard-normal rows become the golden inputs.
"""
NEW_EXAMPLES += EXIT_CODES
KINDS, COMBINES, ROUTES = get_args(Kind), get_args(Combine), get_args(Route)


@click.command(epilog=NEW_EXAMPLES)
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-f", "--framework", type=click.Choice(FRAMEWORKS))
@click.option(
    "-a",
    "--artifact",
    type=click.Path(exists=True, path_type=Path),
    help="joblib or skops file (sklearn; stored as skops); .keras file or SavedModel "
    "directory (tensorflow; no .h5, no Lambda layers); state dict or checkpoint (torch; stored "
    "as safetensors), or a torch.export .pt2 (served only with allow_pickle); XGBoost "
    "Booster.save_model .ubj or .json (xgboost); LightGBM Booster.save_model text (lightgbm).",
)
@click.option("--name", help="Model and Kubernetes name. [default: MODEL_DIR's name]")
@click.option("--version", "model_version", default="1", show_default=True, help="Model version.")
@click.option("--description", default="", help="One line for the manifest and MyModel.py.")
@click.option("--features", callback=names_option, help="Input column names: a,b,c.")
@click.option("--n-features", type=click.IntRange(min=1), help="Number of input columns.")
@click.option("--outputs", callback=names_option, help="Output column names: p,q.")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64", "int32", "int64"]),
    help="Input dtype. [default: the model's, else float64 (sklearn) / float32]",
)
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Example inputs for the contract and the golden pairs: .csv or .parquet (a table), "
    ".json (records, strings, rows, a Seldon request, or input name -> array), .jsonl, .npy, "
    ".npz (one array per named input). The first 10 rows are kept.",
)
@click.option(
    "--range",
    "ranges",
    multiple=True,
    callback=ranges_option,
    metavar="[INPUT=]MIN:MAX",
    help="Values an integer input may hold, inclusive; a value outside is a 400. [default: "
    "torch: the table size of an nn.Embedding the input feeds directly]",
)
@click.option("--tolerance", type=click.FloatRange(min=0), help="Golden comparison tolerance.")
@click.option(
    "--method",
    "methods",
    callback=methods_option,
    metavar="METHOD[,METHOD]",
    help=f"sklearn, xgboost, lightgbm: the methods to serve as named outputs, of "
    f"{', '.join(METHODS)}. "
    "[default: predict_proba when the model has it, else predict]",
)
@click.option(
    "--code",
    "code",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="sklearn: a module of your own that the model imports (repeatable); copied into "
    "code/ and hashed. Modules beside the artifact or in the working directory are found too.",
)
@click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="MODULE.NAME",
    help="sklearn: a function or class beyond the allowlist that the model may import when it "
    "loads (repeatable); recorded in the manifest.",
)
@click.option("--module", metavar="FILE.py:CLASS", help="torch: the file defining the network.")
@click.option(
    "--init-kwargs",
    metavar="JSON",
    callback=json_object_option,
    help="torch: keyword arguments for the network class.",
)
@click.option("--image", help="Image in deployment.yaml. [default: modelrepo/NAME:VERSION]")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Per replica."
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="model",
    show_default=True,
    help="Its part in an inference graph (Seldon's node type). A transformer serves "
    "transform (sklearn) or the network's output.",
)
@click.option("--combine", type=click.Choice(COMBINES), help="A built-in combiner.")
@click.option("--route", type=click.Choice(ROUTES), help="A built-in router.")
@click.option("--children", type=click.IntRange(min=2), help="Combiner/router: its children.")
@click.option(
    "--weights", callback=weights_option, metavar="W,W", help="--combine weighted, --route ab."
)
@click.option("--epsilon", type=click.FloatRange(0, 1), help="--route epsilon-greedy.")
@click.option("--seed", type=int, default=0, show_default=True, help="A router's generator.")
@click.option(
    "--like",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A child's model directory: a combiner reads its output, a router takes its inputs.",
)
@click.option("--force", is_flag=True, help="Replace an existing model directory.")
@click.option(
    "--check/--no-check", default=True, show_default=True, help="Run `check` on the result."
)
def new(
    model_dir: Path,
    framework: str,
    artifact: Path,
    name: str | None,
    model_version: str,
    description: str,
    features: list[str] | None,
    n_features: int | None,
    outputs: list[str] | None,
    dtype: str | None,
    sample: Path | None,
    tolerance: float | None,
    methods: list[str] | None,
    code: tuple[Path, ...],
    trust: tuple[str, ...],
    module: str | None,
    init_kwargs: dict[str, Any],
    ranges: dict[str, tuple[int, int]],
    image: str | None,
    replicas: int,
    workers: int,
    threads: int,
    force: bool,
    check: bool,
    **node: Any,
) -> None:
    """Make a model directory from a trained artifact, or a built-in combiner or router.

    The artifact is placed in the standard layout, the schema inferred where the model tells
    it, golden pairs computed by calling the model, and manifest.json, MyModel.py,
    requirements.txt, .s2i/environment, request.json and deployment.yaml written. Then the
    directory is checked as `modelrepo check` does.
    """
    if node["combine"] is None and node["route"] is None:  # made from an artifact
        for value, hint in ((framework, "'-f' / '--framework'"), (artifact, "'-a' / '--artifact'")):
            if value is None:
                raise click.MissingParameter(param_hint=hint, param_type="option")
    if node["kind"] == "transformer" and framework == "sklearn" and not methods:
        methods = ["transform"]
    if methods and framework not in ("sklearn", "xgboost", "lightgbm"):
        raise click.BadParameter(
            "only for --framework sklearn, xgboost or lightgbm", param_hint="--method"
        )
    if (code or trust) and framework != "sklearn":
        raise click.BadParameter("only for --framework sklearn", param_hint="--code/--trust")
    if (module or init_kwargs) and framework != "torch":
        raise click.BadParameter("only for --framework torch", param_hint="--module")
    request = NewModel(
        model_dir=model_dir,
        framework=framework,
        artifact=artifact,
        name=name,
        version=model_version,
        description=description,
        features=features,
        n_features=n_features,
        outputs=outputs,
        dtype=dtype,
        sample=sample,
        tolerance=tolerance,
        methods=methods,
        code=list(code),
        trust=list(trust),
        module=module,
        init_kwargs=init_kwargs,
        ranges=ranges,
        deployment=DeploymentOptions(
            image=image, replicas=replicas, workers=workers, threads=threads
        ),
        force=force,
        **node,
    )
    err = stderr()
    manifest = scaffold(request, progress(err))
    err.print(
        f"[green]✓[/] wrote {escape(str(model_dir))}: {escape(manifest.name)} v{manifest.version}, "
        f"{escape(_some([_shown(s) for s in manifest.inputs]))} -> "
        f"{escape(_some([_shown(s) for s in manifest.outputs]))}, "
        f"{len(manifest.golden)} golden pairs"
    )
    if check:
        run_checks([model_dir])
    err.print(f"Next: modelrepo serve {escape(str(model_dir))}")


def _shown(spec: Spec) -> str:
    """``name: kind`` with what the kind needs to be recognised: a tensor's dtype and shape,
    a table's columns."""
    if isinstance(spec, TensorSpec):
        shape = ",".join("N" if d == -1 else str(d) for d in spec.shape)
        low, high = ("…" if b is None else b for b in (spec.minimum, spec.maximum))
        bounds = "" if (low, high) == ("…", "…") else f" in [{low}, {high}]"
        return f"{spec.name}: {spec.dtype}[{shape}]{bounds}"
    if isinstance(spec, TableSpec):
        return f"{spec.name}: table of {len(spec.columns)} columns"
    return f"{spec.name}: text"


def _some(names: list[str], shown: int = 6) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[: shown - 1]) + f", ..., {names[-1]}"
