"""The SeldonDeployment of a graph: one container per node, the graph tree, one predictor.

Each node's container is the one its model directory gets alone (``deployment.node_container``:
its image, cores per worker, memory, probes and preStop drain), named after the node so that
Seldon's executor finds it. Each container has its own component spec, hence its own pod and
Kubernetes Deployment: a node scales, autoscales and rolls out on its own, and its grace period
covers its own drain. A graph is deployed only once each parent-child contract holds
(``graph_check``). A graph holding a ROUTER has its executor record routes in ``meta.routing``,
which the router's feedback is read by. ``graphs/<name>/deployment.yaml`` is written here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from modelrepo.modeldir.deployment import (
    DEPLOYMENT_FILE,
    PREDICTOR,
    DeploymentOptions,
    deployment_resource,
    graph_node,
    node_container,
    pod_spec,
    routes_recorded,
    to_yaml,
)
from modelrepo.modeldir.graph import Graph, GraphError, Node
from modelrepo.modeldir.graph_check import graph_problems


def graph_deployment(graph: Graph, options: DeploymentOptions) -> dict[str, Any]:
    """The SeldonDeployment named after the graph, with the graph as its one predictor."""
    return deployment_resource(graph.name, None, options, [graph_predictor(graph, options)])


def render(graph_dir: Path, options: DeploymentOptions | None = None) -> str:
    """The text of the graph's ``deployment.yaml``; without ``options``, the current file's
    choices (replicas, workers, threads, namespace) are kept."""
    options = options or DeploymentOptions.from_file(graph_dir)
    return to_yaml(graph_deployment(Graph.read(graph_dir), options))


def write(graph_dir: Path, options: DeploymentOptions | None = None) -> Path:
    """Writes ``deployment.yaml`` beside ``graph.yaml``, as ``modelrepo refresh`` does."""
    path = Path(graph_dir) / DEPLOYMENT_FILE
    path.write_text(render(graph_dir, options))
    return path


def graph_predictor(
    graph: Graph, options: DeploymentOptions, name: str = PREDICTOR
) -> dict[str, Any]:
    """A predictor running ``graph``; every image is its node's ``modelrepo/NAME:VERSION``.
    A graph that would not run (``graph_problems``) is refused."""
    misfits = graph_problems(graph)
    if misfits:
        raise GraphError(f"graph {graph.name}: " + "; ".join(misfits))
    options = dataclasses.replace(options, image=None)
    components = [
        {
            "spec": pod_spec(
                node_container(graph.manifest(node), graph.model_dir(node), options, node.name),
                options,
            )
        }
        for node in graph.nodes()
    ]
    return routes_recorded(
        {
            "name": name,
            "replicas": options.replicas,
            "componentSpecs": components,
            "graph": _unit(graph, graph.root),
        }
    )


def _unit(graph: Graph, node: Node) -> dict[str, Any]:
    unit = graph_node(node.name, graph.manifest(node))
    if node.children:
        unit["children"] = [_unit(graph, child) for child in node.children]
    return unit
