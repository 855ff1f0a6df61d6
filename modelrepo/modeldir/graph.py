"""graphs/<name>/graph.yaml: a Seldon inference graph whose nodes are model directories.

A node names a directory under ``models/`` and lists its children; its Seldon type is the
model directory's ``kind`` (``transformer`` serves as ``TRANSFORMER``). The same tree is what
``modelrepo check`` holds to each parent-child contract, what ``modelrepo deploy`` writes as a
SeldonDeployment and what ``modelrepo serve`` runs locally.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wrappers.core.manifest import Manifest

GRAPH_FILE = "graph.yaml"
#: a node's name is its container's name, so it follows Kubernetes' DNS label rules
NODE_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class GraphError(ValueError):
    """graph.yaml is missing, malformed or names a model directory that is not there."""


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NODE_NAME)
    model: str  # a directory under the repository's models/
    children: list[Node] = Field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        """This node, then its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class GraphSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NODE_NAME)
    description: str = ""
    graph: Node

    @model_validator(mode="after")
    def _names_once(self) -> GraphSpec:
        names = [node.name for node in self.graph.walk()]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"node names repeat: {repeated}")
        return self


class Graph:
    """A graph.yaml read, with each node's model directory and manifest found."""

    def __init__(self, graph_dir: Path, spec: GraphSpec, models_root: Path) -> None:
        self.graph_dir = Path(graph_dir)
        self.spec = spec
        self.models_root = Path(models_root)

    @classmethod
    def read(cls, graph_dir: Path, models_root: Path | None = None) -> Graph:
        """``models_root`` defaults to ``models/`` beside the ``graphs/`` folder."""
        graph_dir = Path(graph_dir).resolve()
        path = graph_dir / GRAPH_FILE
        try:
            spec = GraphSpec.model_validate(yaml.safe_load(path.read_text()))
        except FileNotFoundError as exc:
            raise GraphError(f"no {GRAPH_FILE} in {graph_dir}") from exc
        except (yaml.YAMLError, ValidationError) as exc:
            raise GraphError(f"{path} is not a valid graph: {exc}") from exc
        graph = cls(graph_dir, spec, models_root or graph_dir.parent.parent / "models")
        missing = [n.model for n in graph.nodes() if not graph.model_dir(n).is_dir()]
        if missing:
            raise GraphError(f"{path} names model directories that are not there: {missing}")
        return graph

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def root(self) -> Node:
        return self.spec.graph

    def nodes(self) -> list[Node]:
        return list(self.root.walk())

    def model_dir(self, node: Node) -> Path:
        return self.models_root / node.model

    def manifest(self, node: Node) -> Manifest:
        return Manifest.read(self.model_dir(node))

    def service_type(self, node: Node) -> str:
        """Seldon's type for the node: its model directory's kind, upper-cased."""
        return self.manifest(node).node_type


def is_graph_dir(path: Path) -> bool:
    return (Path(path) / GRAPH_FILE).is_file()
