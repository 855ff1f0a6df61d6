"""``modelrepo deploy``: the SeldonDeployment of a model directory or a graph, and rollouts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from modelrepo.cli.errors import EXIT_CODES, ExitCode, Failure
from modelrepo.cli.options import deployment_options, require_manifest
from modelrepo.cli.output import stderr
from modelrepo.modeldir.deployment import DeploymentOptions
from modelrepo.modeldir.graph import Graph, GraphError, is_graph_dir
from modelrepo.modeldir.rollout import LOGGER_MODES


@click.command(
    epilog="""\b
Examples:
  modelrepo deploy models/sklearn-iris | kubectl apply -f -
  modelrepo deploy my-model --image registry.example.com/my-model:1 --replicas 3 --write
  modelrepo deploy graphs/iris-ensemble
  modelrepo deploy models/sklearn-iris --canary models/sklearn-iris-v2 --traffic 10
  modelrepo deploy models/sklearn-iris --ab modelrepo/sklearn-iris:0.2.0 --traffic 50
  modelrepo deploy models/sklearn-iris --shadow models/sklearn-iris-v2 --hpa 2,10,70
  modelrepo deploy models/sklearn-iris --logger http://logger.seldon/ --logger-mode request
\b
Options not given keep the values of the directory's deployment.yaml; the rollout options
(--canary, --ab, --shadow, --hpa, --logger) are stated on each run.
"""
    + EXIT_CODES
)
@click.argument("target", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--image", help="Container image of a model. [default: modelrepo/NAME:VERSION]")
@click.option("--replicas", type=click.IntRange(min=1))
@click.option("--workers", type=click.IntRange(min=1), help="Per replica; one core each.")
@click.option("--threads", type=click.IntRange(min=1))
@click.option("--namespace")
@click.option(
    "--signing-key-secret",
    metavar="SECRET",
    help="Kubernetes Secret with the signer's public.pem: the server then requires model.sig.",
)
@click.option("--canary", metavar="DIR|IMAGE", help="A second predictor, 'canary', with --traffic.")
@click.option("--ab", metavar="DIR|IMAGE", help="Predictors 'a' (TARGET) and 'b' (this) split.")
@click.option(
    "--traffic", type=click.IntRange(0, 100), help="Percent to --canary or --ab. [ab: 50]"
)
@click.option("--shadow", metavar="DIR|IMAGE", help="A predictor sent a copy of each request.")
@click.option("--hpa", metavar="MIN,MAX,CPU%", help="Autoscale every component on CPU.")
@click.option("--logger", "logger_url", metavar="URL", help="Log payloads to URL (graph.logger).")
@click.option("--logger-mode", type=click.Choice(LOGGER_MODES), default="all", show_default=True)
@click.option("--write", is_flag=True, help="Also write deployment.yaml in TARGET.")
def deploy(target: Path, write: bool, **given: Any) -> None:
    """Print the SeldonDeployment of TARGET, a model directory or graphs/NAME.

    A machinelearning.seldon.io/v1 resource with one predictor of REPLICAS pods; each
    container asks for one core per gunicorn worker, and its readiness probe
    (/health/status) passes only once the model has verified its artifact and golden pairs.
    A graph gets one container per node and the graph tree. Whatever is written meets the CRD
    and every rule of Seldon's admission webhook, or is refused with the webhook's message.
    """
    from modelrepo.modeldir.deployment import DEPLOYMENT_FILE, deployment_problems, to_yaml

    graph = _read_graph(target) if is_graph_dir(target) else None
    if graph is None:
        require_manifest(target)
    elif given["image"]:
        raise click.BadParameter("a graph's images are its nodes'", param_hint="--image")
    options = _options(target, given)
    try:
        resource = _resource(target, graph, options, given)
    except GraphError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from exc
    problems = deployment_problems(resource)
    if problems:
        raise Failure("invalid SeldonDeployment: " + "; ".join(problems), ExitCode.USAGE)
    text = to_yaml(resource)
    if write:
        (target / DEPLOYMENT_FILE).write_text(text)
        stderr().print(f"wrote {escape(str(target / DEPLOYMENT_FILE))}")
    click.echo(text, nl=False)


def _read_graph(target: Path) -> Graph:
    try:
        return Graph.read(target)
    except GraphError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from exc


def _options(target: Path, given: dict[str, Any]) -> DeploymentOptions:
    names = ("image", "replicas", "workers", "threads", "namespace", "signing_key_secret")
    chosen = {name: given[name] for name in names if given[name] is not None}
    return dataclasses.replace(deployment_options(target), **chosen)


def _resource(
    target: Path, graph: Graph | None, options: DeploymentOptions, given: dict[str, Any]
) -> dict[str, Any]:
    """The deployment of ``target`` with the rollout the options ask for."""
    from modelrepo.modeldir.deployment import deployment_resource, model_predictor
    from modelrepo.modeldir.graph_deployment import graph_predictor
    from modelrepo.modeldir.rollout import (
        AB,
        CANARY,
        SHADOW,
        Hpa,
        Logger,
        Rollout,
        RolloutError,
        predictor_of,
        rolled_out,
    )
    from wrappers.core.manifest import Manifest

    if given["canary"] and given["ab"]:
        raise click.UsageError("--canary and --ab are two ways to split traffic: choose one")
    if given["traffic"] is not None and not (given["canary"] or given["ab"]):
        raise click.UsageError("--traffic is the share of --canary or --ab")
    if given["canary"] and given["traffic"] is None:
        raise click.UsageError("--canary needs --traffic N, the percent it takes")
    try:
        second = {
            key: predictor_of(given[key], name, options, target)
            for key, name in (("canary", CANARY), ("ab", AB[1]), ("shadow", SHADOW))
            if given[key]
        }
        hpa = Hpa.parse(given["hpa"]) if given["hpa"] else None
    except RolloutError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from exc
    logger = Logger(given["logger_url"], given["logger_mode"]) if given["logger_url"] else None
    rollout = Rollout(**second, traffic=given["traffic"], hpa=hpa, logger=logger)
    if graph is not None:
        main = graph_predictor(graph, options)
        name, version = graph.name, None
    else:
        manifest = Manifest.read(target)
        main = model_predictor(manifest, target, options)
        name, version = manifest.name, manifest.version
    return deployment_resource(name, version, options, rolled_out(main, rollout))
