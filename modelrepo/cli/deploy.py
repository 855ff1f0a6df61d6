"""``modelrepo deploy``: the SeldonDeployment of a model directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from rich.markup import escape

from modelrepo.cli.errors import EXIT_CODES, ExitCode, Failure
from modelrepo.cli.options import deployment_options, model_dir_argument, require_manifest
from modelrepo.cli.output import stderr
from wrappers.core.manifest import Manifest


@click.command(
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
    options = deployment_options(model_dir)
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
