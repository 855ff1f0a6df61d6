"""``modelrepo new``: a model directory from a trained artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from modelrepo.cli.check import run_checks
from modelrepo.cli.errors import EXIT_CODES
from modelrepo.cli.options import json_object_option, methods_option, names_option
from modelrepo.cli.output import progress, stderr
from modelrepo.modeldir.deployment import DeploymentOptions
from modelrepo.modeldir.request import FRAMEWORKS, NewModel
from modelrepo.modeldir.scaffold import scaffold
from wrappers.contract import Spec, TableSpec, TensorSpec
from wrappers.frameworks.sklearn.describe import METHODS

NEW_EXAMPLES = """\b
Examples:
  modelrepo new my-model --framework sklearn --artifact m.joblib
  modelrepo new my-model -f sklearn -a m.joblib --sample rows.csv --method predict
  modelrepo new my-net -f tensorflow -a net.keras --features age,bmi,bp --outputs risk
  modelrepo new my-net -f tensorflow -a exported_saved_model_dir --n-features 10
  modelrepo new my-torch -f torch -a model.pt --module network.py:Net --n-features 10
  modelrepo new my-xgb -f xgboost -a model.ubj --sample rows.csv
  modelrepo new my-lgbm -f lightgbm -a model.txt --sample rows.csv

\b
What each framework infers (flags fill in the rest):
  sklearn     features from n_features_in_ / feature_names_in_, outputs from classes_
  tensorflow  features and dtype from the serving signature; a .keras file is exported
  torch       nothing: give --n-features or --features (or a --sample file)
  xgboost     features, categories and outputs from the saved Booster and its objective
  lightgbm    features, categories (pandas_categorical) and outputs from the objective
Without --sample, six deterministic standard-normal rows become the golden inputs.
"""
NEW_EXAMPLES += EXIT_CODES


@click.command(epilog=NEW_EXAMPLES)
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-f", "--framework", type=click.Choice(FRAMEWORKS), required=True)
@click.option(
    "-a",
    "--artifact",
    type=click.Path(exists=True, path_type=Path),
    required=True,
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
    module: str | None,
    init_kwargs: dict[str, Any],
    image: str | None,
    replicas: int,
    workers: int,
    threads: int,
    force: bool,
    check: bool,
) -> None:
    """Make a model directory from a trained artifact.

    The artifact is placed in the standard layout, the schema inferred where the model tells
    it, golden pairs computed by calling the model, and manifest.json, MyModel.py,
    requirements.txt, .s2i/environment, request.json and deployment.yaml written. Then the
    directory is checked as `modelrepo check` does.
    """
    if methods and framework not in ("sklearn", "xgboost", "lightgbm"):
        raise click.BadParameter(
            "only for --framework sklearn, xgboost or lightgbm", param_hint="--method"
        )
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
        module=module,
        init_kwargs=init_kwargs,
        deployment=DeploymentOptions(
            image=image, replicas=replicas, workers=workers, threads=threads
        ),
        force=force,
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
        return f"{spec.name}: {spec.dtype}[{shape}]"
    if isinstance(spec, TableSpec):
        return f"{spec.name}: table of {len(spec.columns)} columns"
    return f"{spec.name}: text"


def _some(names: list[str], shown: int = 6) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[: shown - 1]) + f", ..., {names[-1]}"
