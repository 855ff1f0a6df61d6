"""``modelrepo serve``: a model directory under seldon-core-microservice, or a graph run
locally (each node's microservice, the graph walked as Seldon's executor walks it)."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from modelrepo.cli.errors import EXIT_CODES, ExitCode, Failure
from modelrepo.cli.options import model_dir_argument, port_option, require_manifest
from modelrepo.cli.output import stderr
from modelrepo.modeldir.graph import Graph, GraphError, is_graph_dir
from wrappers.core.budget import Budget

if TYPE_CHECKING:
    from modelrepo.local.graph_run import GraphRun


@click.command(
    epilog="""\b
Examples:
  modelrepo serve models/sklearn-iris
  modelrepo serve my-model --workers 4 --http-port 8080
  GUNICORN_WORKERS=2 modelrepo serve my-model --dry-run
  modelrepo serve graphs/my-graph --http-port 8000
\b
Defaults: one gunicorn worker per CPU core (GUNICORN_WORKERS), one thread each
(GUNICORN_THREADS), OMP/MKL/OpenBLAS threads splitting the cores between workers.
Environment variables override the defaults and flags override both.
A graph's nodes run one worker each unless told, on free ports; its REST API is on --http-port.
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
    """Serve MODEL_DIR with seldon-core-microservice, or a graph directory locally.

    REST, gRPC and metrics on the ports below. Each worker verifies the artifact and
    replays the golden pairs before it answers; /health/status says 200 once it has.
    A graph directory (graphs/NAME with graph.yaml) runs each node's microservice and answers
    /api/v1.0/predictions and /api/v1.0/feedback on --http-port as Seldon's executor would.
    """
    from modelrepo.local.process import Microservice

    if is_graph_dir(model_dir):
        options = ["--log-level", log_level.upper()]
        run = graph_run(model_dir, host, http_port, workers or 1, threads or 1, options)
        return serve_graph(run, dry_run)
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


def graph_run(
    graph_dir: Path, host: str, http_port: int, workers: int, threads: int, options: list[str]
) -> GraphRun:
    """The graph in GRAPH_DIR with each node's microservice as the options say."""
    from modelrepo.local.graph_run import GraphRun

    try:
        graph = Graph.read(graph_dir)
    except GraphError as exc:
        raise click.BadParameter(str(exc), param_hint="MODEL_DIR") from exc
    return GraphRun(
        graph, host=host, http_port=http_port, workers=workers, threads=threads, extra_args=options
    )


def serve_graph(run: GraphRun, dry_run: bool) -> None:
    """Runs the graph in the foreground until interrupted, stopped or a node exits."""
    if dry_run:
        for name, service in run.plan().items():
            click.echo(f"# {name}\ncd {service.model_dir}\n{' '.join(service.command())}")
        return
    run.log_dir = Path(tempfile.mkdtemp(prefix=f"modelrepo-{run.graph.name}-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leaves the run, which stops it
    for name, service in run.plan().items():  # before the nodes answer, which may be at once
        stderr().print(f"  {name} ({service.service_type}): {service.url}")
    try:
        with run:
            stderr().print(
                f"serving the graph {escape(run.graph.name)} on {run.url}/api/v1.0/predictions; "
                f"node logs in {run.log_dir}"
            )
            while (gone := run.exited()) is None:
                time.sleep(0.5)
    except (RuntimeError, TimeoutError) as exc:  # a node did not start
        raise Failure(str(exc), ExitCode.MODEL) from exc
    raise Failure(f"{run.describe()}: node {gone}; logs in {run.log_dir}", ExitCode.MODEL)
