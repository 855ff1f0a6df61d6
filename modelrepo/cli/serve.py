"""``modelrepo serve``: a model directory under seldon-core-microservice."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from modelrepo.cli.errors import EXIT_CODES
from modelrepo.cli.options import model_dir_argument, port_option, require_manifest
from modelrepo.cli.output import stderr
from wrappers.core.budget import Budget


@click.command(
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
