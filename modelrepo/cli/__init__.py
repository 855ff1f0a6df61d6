"""``modelrepo``: from a trained artifact to a served, checked, deployable model directory.

The commands are thin: the work is done by ``scaffold`` (new), ``check``, ``server`` (serve),
``client`` (predict), ``deployment`` (deploy) and ``servingfiles`` (refresh). This module turns
their errors into one-line messages and exit codes that scripts can rely on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from seldon_core.flask_utils import SeldonMicroserviceException

from modelrepo.modeldir.client import ServerError, Unreachable
from modelrepo.modeldir.deployment import DeploymentOptions, UnreadableDeployment
from modelrepo.modeldir.request import FRAMEWORKS, NewModel, Step
from modelrepo.modeldir.scaffold import scaffold
from wrappers import wrapper_for
from wrappers.contract import Spec, TableSpec, TensorSpec
from wrappers.core.budget import Budget
from wrappers.core.manifest import MANIFEST_FILE, Manifest
from wrappers.errors import InvalidInput, ManifestError, ModelLoadError, ScaffoldError
from wrappers.frameworks.sklearn.describe import METHODS

EXIT_CODES = """\b
Exit codes:
  0  success
  1  the model failed: a check, its load, or the server's answer (5xx)
  2  usage error: a bad option, a missing file, a request that does not fit (4xx)
  3  environment: no server answers, a framework or program is not installed"""


class ExitCode(IntEnum):
    OK = 0
    MODEL = 1
    USAGE = 2
    ENVIRONMENT = 3


class Failure(click.ClickException):
    """A message for the user, without a traceback, and the exit code it stands for."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = int(exit_code)


class FriendlyGroup(click.Group):
    """Turns the errors a user can cause or fix into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except (ScaffoldError, InvalidInput) as exc:
            raise Failure(str(exc), ExitCode.USAGE) from exc
        except ServerError as exc:
            client_side = isinstance(exc.status, int) and 400 <= exc.status < 500
            client_side |= exc.status == "INVALID_ARGUMENT"
            raise Failure(str(exc), ExitCode.USAGE if client_side else ExitCode.MODEL) from exc
        except (ModelLoadError, SeldonMicroserviceException) as exc:
            raise Failure(str(exc), ExitCode.MODEL) from exc
        except (Unreachable, ImportError, OSError) as exc:
            raise Failure(f"{exc}", ExitCode.ENVIRONMENT) from exc


#: width for output that goes to a file or a pipe (CI logs), where rich would assume 80
LOG_WIDTH = 120


def console(stderr: bool = False) -> Console:
    terminal = Console(stderr=stderr, highlight=False)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, highlight=False, width=LOG_WIDTH, soft_wrap=True)


def stdout() -> Console:
    return console()


def stderr() -> Console:
    return console(stderr=True)


def spinner(out: Console, text: str) -> contextlib.AbstractContextManager[Any]:
    """A spinner on a terminal; nothing in a log, where it would only add noise."""
    return out.status(escape(text)) if out.is_terminal else contextlib.nullcontext()


def progress(out: Console) -> Step:
    """Shows each long step with a spinner while it runs and its duration once done."""

    @contextlib.contextmanager
    def step(text: str) -> Iterator[None]:
        started = time.perf_counter()
        with spinner(out, text):
            yield
        out.print(f"[green]✓[/] {escape(text)} [dim]({time.perf_counter() - started:.1f}s)[/]")

    return step


def names_option(_: click.Context, __: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise click.BadParameter("expected comma-separated names such as a,b,c")
    return names


def methods_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    methods = names_option(ctx, param, value)
    unknown = [m for m in methods or [] if m not in METHODS]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not one of {', '.join(METHODS)}")
    return methods


def json_object_option(_: click.Context, __: click.Parameter, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter('expected a JSON object such as {"hidden": 16}')
    return parsed


def model_dir_argument(**kwargs: Any) -> Any:
    return click.argument(
        "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), **kwargs
    )


def port_option(server: str, default: int) -> Any:
    """``--<server>-port``, read like Seldon from ``PREDICTIVE_UNIT_<SERVER>_SERVICE_PORT``."""
    return click.option(
        f"--{server}-port",
        type=click.IntRange(1, 65535),
        envvar=f"PREDICTIVE_UNIT_{server.upper()}_SERVICE_PORT",
        default=default,
        show_default=True,
        show_envvar=True,
    )


def require_manifest(model_dir: Path) -> None:
    if not (model_dir / MANIFEST_FILE).is_file():
        raise click.BadParameter(
            f"{model_dir} holds no {MANIFEST_FILE}; is it a model directory?",
            param_hint="MODEL_DIR",
        )


@click.group(cls=FriendlyGroup, epilog=EXIT_CODES)
@click.version_option(package_name="modelrepo")
def main() -> None:
    """Make, check, serve and deploy Seldon Core model directories.

    \b
    From a model saved with joblib.dump(model, "m.joblib") to a served, checked directory:
      modelrepo new my-model --framework sklearn --artifact m.joblib
      modelrepo serve my-model

    Run `modelrepo COMMAND --help` for each command's options and examples.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the reports say what the wrappers would log; a server keeps its logging
    logging.getLogger("wrappers").setLevel(logging.CRITICAL)


try:  # the benchmark ships with the repository, not with the serving images
    from bench.cli import bench
except ImportError:
    pass
else:
    main.add_command(bench)


# ---- new ---------------------------------------------------------------------------------------

NEW_EXAMPLES = """\b
Examples:
  modelrepo new my-model --framework sklearn --artifact m.joblib
  modelrepo new my-model -f sklearn -a m.joblib --sample rows.csv --method predict
  modelrepo new my-net -f tensorflow -a net.keras --features age,bmi,bp --outputs risk
  modelrepo new my-net -f tensorflow -a exported_saved_model_dir --n-features 10
  modelrepo new my-torch -f torch -a model.pt --module network.py:Net --n-features 10

\b
What each framework infers (flags fill in the rest):
  sklearn     features from n_features_in_ / feature_names_in_, outputs from classes_
  tensorflow  features and dtype from the serving signature; a .keras file is exported
  torch       nothing: give --n-features or --features (or a --sample file)
Without --sample, six deterministic standard-normal rows become the golden inputs.
"""
NEW_EXAMPLES += EXIT_CODES


@main.command(epilog=NEW_EXAMPLES)
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-f", "--framework", type=click.Choice(FRAMEWORKS), required=True)
@click.option(
    "-a",
    "--artifact",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="joblib or skops file (sklearn; stored as skops); .keras file or SavedModel "
    "directory (tensorflow; no .h5, no Lambda layers); state dict or checkpoint (torch; stored "
    "as safetensors), or a torch.export .pt2 (served only with allow_pickle).",
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
    help=f"sklearn: the methods to serve as named outputs, of {', '.join(METHODS)}. "
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
    if methods and framework != "sklearn":
        raise click.BadParameter("only for --framework sklearn", param_hint="--method")
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
        _run_checks([model_dir])
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


# ---- check -------------------------------------------------------------------------------------

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@main.command(
    epilog="""\b
Examples:
  modelrepo check models/sklearn-iris
  modelrepo check models/*          # every model; exit 1 if any fails
"""
    + EXIT_CODES
)
@click.argument(
    "model_dirs",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def check(model_dirs: tuple[Path, ...]) -> None:
    """Verify model directories without serving them.

    Checks the manifest, the artifacts' sha256, the recorded framework version against the
    installed one, requirements.txt and deployment.yaml, then loads the model with its own
    MyModel class and replays the golden pairs, as every server worker does before it serves.
    A failed row fails the check; a warning (a patch-level framework difference, another
    Python release, no requirements.txt or deployment.yaml) is reported but does not.
    """
    for model_dir in model_dirs:
        require_manifest(model_dir)
    _run_checks(list(model_dirs))


def _run_checks(model_dirs: list[Path]) -> None:
    from modelrepo.modeldir.check import check_model_dir

    out, err = stdout(), stderr()
    failed = []
    for model_dir in model_dirs:
        with spinner(err, f"checking {model_dir}"):
            report = check_model_dir(model_dir)
        table = Table(title=f"check {model_dir}", title_justify="left")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for finding in report.findings:
            table.add_row(
                finding.check,
                Text(finding.status, style=STATUS_STYLE[finding.status]),
                Text(finding.detail),
            )
        out.print(table)
        for finding in report.problems:
            out.print(Text(f"{finding.status}: {finding.check}: {finding.detail}"), soft_wrap=True)
        verdict = "[green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
        out.print(f"{escape(str(model_dir))}: {verdict}")
        if not report.passed:
            failed.append(model_dir)
    if failed:
        raise Failure(
            f"{len(failed)} model director{'y' if len(failed) == 1 else 'ies'} failed the check: "
            + ", ".join(str(d) for d in failed),
            ExitCode.MODEL,
        )


# ---- serve -------------------------------------------------------------------------------------


@main.command(
    epilog="""\b
Examples:
  modelrepo serve models/sklearn-iris
  modelrepo serve my-model --workers 4 --http-port 8080
  GUNICORN_WORKERS=2 modelrepo serve my-model --dry-run
\b
Defaults: one gunicorn worker per CPU core (GUNICORN_WORKERS), one thread each
(GUNICORN_THREADS), OMP/MKL/OpenBLAS threads splitting the cores between workers.
Environment variables override the defaults and flags override both.
"""
    + EXIT_CODES
)
@model_dir_argument()
@click.option("--workers", type=click.IntRange(min=1), help="[default: CPU cores]")
@click.option("--threads", type=click.IntRange(min=1), help="Per worker. [default: 1]")
@port_option("http", 9000)
@port_option("grpc", 5000)
@port_option("metrics", 6000)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    envvar="SELDON_LOG_LEVEL",
    default="INFO",
    show_default=True,
    show_envvar=True,
)
@click.option(
    "--host",
    envvar="MODELREPO_BIND_HOST",
    default="127.0.0.1",
    show_default=True,
    show_envvar=True,
    help="Address to listen on; 0.0.0.0 for every interface (as in a container).",
)
@click.option("--dry-run", is_flag=True, help="Print the command and settings; do not start.")
def serve(
    model_dir: Path,
    workers: int | None,
    threads: int | None,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    log_level: str,
    host: str,
    dry_run: bool,
) -> None:
    """Serve MODEL_DIR with seldon-core-microservice.

    REST, gRPC and metrics on the ports below. Each worker verifies the artifact and
    replays the golden pairs before it answers; /health/status says 200 once it has.
    """
    from modelrepo.local.process import Microservice

    require_manifest(model_dir)
    if not (model_dir / "MyModel.py").is_file():
        raise click.BadParameter(
            f"{model_dir} has no MyModel.py; `modelrepo refresh {model_dir}` writes it",
            param_hint="MODEL_DIR",
        )
    budget = Budget.for_machine(workers=workers, threads=threads)
    service = Microservice(
        model_dir,
        workers=budget.workers,
        threads=budget.threads,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        host=host,
        extra_args=["--log-level", log_level.upper()],
    )
    command = service.command()
    env = {**budget.environment(), **os.environ, "SELDON_LOG_LEVEL": log_level.upper()}
    if dry_run:
        click.echo(f"cd {model_dir}")
        for name in budget.environment():
            click.echo(f"{name}={env[name]}")
        click.echo(" ".join(command))
        return
    stderr().print(
        f"serving {escape(str(model_dir))} on {host}: REST :{http_port}, gRPC :{grpc_port}, "
        f"metrics :{metrics_port}, {budget.workers} worker(s) x {budget.threads} thread(s)"
    )
    os.chdir(model_dir)
    os.execvpe(command[0], command, env)


# ---- predict -----------------------------------------------------------------------------------


@main.command(
    epilog="""\b
Examples:
  modelrepo predict models/sklearn-iris                      # its request.json, in-process
  modelrepo predict models/sklearn-iris --data '[[5.1, 3.5, 1.4, 0.2]]'
  modelrepo predict http://127.0.0.1:9000 --data '[[5.1, 3.5, 1.4, 0.2]]'
  modelrepo predict 127.0.0.1:5000 --grpc --file models/sklearn-iris/request.json
"""
    + EXIT_CODES
)
@click.argument("target")
@click.option("-d", "--data", help="Rows as JSON ([[...]]) or a whole Seldon message.")
@click.option(
    "--file",
    "data_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON request file such as request.json.",
)
@click.option("--names", callback=names_option, help="Feature names of the rows: a,b,c.")
@click.option("--grpc", is_flag=True, help="TARGET is host:port of the gRPC server.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
def predict(
    target: str,
    data: str | None,
    data_file: Path | None,
    names: list[str] | None,
    grpc: bool,
    timeout: float,
) -> None:
    """Send one prediction request and print the answer as JSON.

    TARGET is a server (http://host:port for REST, host:port with --grpc) or a model
    directory, which is loaded in this process; without --data a directory answers its
    request.json.
    """
    from modelrepo.modeldir import client

    local = Path(target).is_dir()
    if local:
        require_manifest(Path(target))
        if grpc:
            raise click.BadParameter("--grpc needs a server address, not a directory")
    if data and data_file:
        raise click.UsageError("give --data or --file, not both")
    text = data or (data_file.read_text() if data_file else None)
    if text is None and local:
        default = Path(target) / "request.json"
        text = default.read_text() if default.is_file() else None
    if text is None:
        raise click.UsageError("no request: pass --data '[[...]]' or --file request.json")
    try:
        body = client.load_body(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--data/--file") from exc
    if names:
        body["data"]["names"] = names
    if local:
        answer = client.predict_local(Path(target), body)
    elif grpc:
        try:
            address = client.grpc_target(target)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET") from exc
        answer = client.predict_grpc(address, body, timeout)
    else:
        if not target.startswith(("http://", "https://")):
            raise click.BadParameter(
                "expected a model directory or http://host:port (or host:port with --grpc)",
                param_hint="TARGET",
            )
        answer = client.predict_rest(target, body, timeout)
    click.echo(json.dumps(answer, indent=2))


# ---- list --------------------------------------------------------------------------------------


@main.command("list", epilog="\b\nExample:\n  modelrepo list models")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default="models"
)
def list_models(root: Path) -> None:
    """List the models below ROOT: framework, version, status.

    The status compares the artifacts' sha256 and the installed framework with the manifest
    without loading any model (`modelrepo check` loads them and replays the golden pairs).
    """
    table = Table(title=f"models in {root}", title_justify="left")
    for column in ("name", "framework", "recorded", "installed", "version", "golden", "status"):
        table.add_column(column)
    for manifest_path in sorted(root.glob(f"*/{MANIFEST_FILE}")):
        model_dir = manifest_path.parent
        try:
            manifest = Manifest.read(model_dir)
        except ManifestError as exc:
            table.add_row(model_dir.name, "", "", "", "", "", Text(f"invalid manifest: {exc}"))
            continue
        installed = _installed(manifest.framework)
        problems = manifest.artifact_mismatches(model_dir)
        if problems:
            status = Text(f"{len(problems)} artifact problem(s)", style="red")
        elif installed is None:
            status = Text("framework not installed", style="red")
        elif _release(installed) != _release(manifest.framework_version):
            status = Text("framework version differs", style="yellow")
        else:
            status = Text("ok", style="green")
        table.add_row(
            manifest.name,
            manifest.framework,
            manifest.framework_version,
            installed or "-",
            manifest.version,
            str(len(manifest.golden)),
            status,
        )
    stdout().print(table)


def _installed(framework: str) -> str | None:
    try:
        return wrapper_for(framework).installed_version()
    except ImportError:
        return None


def _release(version: str) -> tuple[int, ...]:
    from packaging.version import Version

    return Version(version).release[:2]


# ---- deploy and refresh ------------------------------------------------------------------------


@main.command(
    epilog="""\b
Examples:
  modelrepo deploy models/sklearn-iris | kubectl apply -f -
  modelrepo deploy my-model --image registry.example.com/my-model:1 --replicas 3 --write
\b
Options not given keep the values of the directory's deployment.yaml.
"""
    + EXIT_CODES
)
@model_dir_argument()
@click.option("--image", help="Container image. [default: modelrepo/NAME:VERSION]")
@click.option("--replicas", type=click.IntRange(min=1))
@click.option("--workers", type=click.IntRange(min=1), help="Per replica; one core each.")
@click.option("--threads", type=click.IntRange(min=1))
@click.option("--namespace")
@click.option(
    "--signing-key-secret",
    metavar="SECRET",
    help="Kubernetes Secret with the signer's public.pem: the server then requires model.sig.",
)
@click.option("--write", is_flag=True, help="Also write deployment.yaml in MODEL_DIR.")
def deploy(
    model_dir: Path,
    image: str | None,
    replicas: int | None,
    workers: int | None,
    threads: int | None,
    namespace: str | None,
    signing_key_secret: str | None,
    write: bool,
) -> None:
    """Print the SeldonDeployment of MODEL_DIR.

    A machinelearning.seldon.io/v1 resource with one predictor of REPLICAS pods; each
    container asks for one core per gunicorn worker, and its readiness probe
    (/health/status) passes only once the model has verified its artifact and golden pairs.
    """
    from modelrepo.modeldir.deployment import (
        DEPLOYMENT_FILE,
        deployment_problems,
        seldon_deployment,
        to_yaml,
    )

    require_manifest(model_dir)
    manifest = Manifest.read(model_dir)
    options = _deployment_options(model_dir)
    given = {"image": image, "replicas": replicas, "workers": workers, "threads": threads}
    given["namespace"] = namespace
    given["signing_key_secret"] = signing_key_secret
    options = dataclasses.replace(options, **{k: v for k, v in given.items() if v is not None})
    resource = seldon_deployment(manifest, model_dir, options)
    problems = deployment_problems(resource)
    if problems:
        raise Failure("invalid SeldonDeployment: " + "; ".join(problems), ExitCode.USAGE)
    text = to_yaml(resource)
    if write:
        (model_dir / DEPLOYMENT_FILE).write_text(text)
        stderr().print(f"wrote {escape(str(model_dir / DEPLOYMENT_FILE))}")
    click.echo(text, nl=False)


@main.command(epilog="\b\nExample:\n  modelrepo refresh models/*")
@click.argument(
    "model_dirs",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def refresh(model_dirs: tuple[Path, ...]) -> None:
    """Rewrite the files that follow from manifest.json.

    MyModel.py, requirements.txt, .s2i/environment, request.json and deployment.yaml (which
    keeps its image, replicas, workers and threads). Artifacts and manifest stay untouched.
    """
    from modelrepo.modeldir import servingfiles

    err = stderr()
    for model_dir in model_dirs:
        require_manifest(model_dir)
        options = _deployment_options(model_dir)
        written = servingfiles.write(Manifest.read(model_dir), model_dir, options)
        names = ", ".join(str(p.relative_to(model_dir)) for p in written)
        err.print(f"[green]✓[/] {escape(str(model_dir))}: {escape(names)}")


def _deployment_options(model_dir: Path) -> DeploymentOptions:
    """The settings of the directory's deployment.yaml; the defaults when it is unreadable."""
    try:
        return DeploymentOptions.from_file(model_dir)
    except UnreadableDeployment as exc:
        stderr().print(Text(f"warning: {exc}; using the default deployment settings"))
        return DeploymentOptions()


if __name__ == "__main__":
    main()
