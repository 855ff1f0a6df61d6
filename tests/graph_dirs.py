"""Graphs of small model directories made by ``modelrepo new`` from real scikit-learn models.

Two models are trained and imported: ``iris`` (4 features in, 3 class probabilities out) and
``three`` (3 features in, 3 probabilities out). Other nodes are copies of them with another
``name`` and ``kind`` in manifest.json, as a node of that kind declares its contract.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import joblib
import yaml
from conftest import run_cli

from modelrepo.modeldir.graph import GRAPH_FILE


def train(directory: Path) -> dict[str, Path]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True)
    artifacts = {}
    for name, columns in (("iris", slice(None)), ("three", slice(0, 3))):
        model = LogisticRegression(max_iter=500).fit(features[:, columns], target)
        artifacts[name] = directory / f"{name}.joblib"
        joblib.dump(model, artifacts[name])
    return artifacts


def make_models(root: Path) -> Path:
    """``root/models`` with ``iris`` and ``three`` made by ``modelrepo new``."""
    models = root / "models"
    for name, artifact in train(root).items():
        made = run_cli("new", models / name, "--framework", "sklearn", "--artifact", artifact)
        assert made.exit_code == 0, made.output + made.stderr
    return models


def node_copy(
    models: Path, source: str, name: str, kind: str, edit: Callable[[dict], None] | None = None
) -> Path:
    """A copy of ``models/source`` named ``name`` whose manifest declares ``kind``, its
    contract changed by ``edit`` (which is given the manifest's JSON)."""
    target = shutil.copytree(models / source, models / name, dirs_exist_ok=True)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.update(name=name, kind=kind)
    if edit is not None:
        edit(manifest)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def named(side: str, names: list[str]) -> Callable[[dict], None]:
    """An edit naming the columns of the one input (``side="inputs"``) or output."""
    return lambda manifest: manifest[side][0].update(names=names)


def node(name: str, model: str, *children: dict) -> dict:
    return {"name": name, "model": model, "children": list(children)}


def write_graph(root: Path, name: str, tree: dict) -> Path:
    """``root/graphs/name/graph.yaml`` holding ``tree``; its models are ``root/models``."""
    graph_dir = root / "graphs" / name
    graph_dir.mkdir(parents=True, exist_ok=True)
    spec = {"name": name, "description": f"the {name} graph", "graph": tree}
    (graph_dir / GRAPH_FILE).write_text(yaml.safe_dump(spec, sort_keys=False))
    return graph_dir
