"""``modelrepo refresh``: rewrite the files that follow from manifest.json."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from modelrepo.cli.errors import ExitCode, Failure
from modelrepo.cli.options import deployment_options, model_dirs_argument, require_manifest
from modelrepo.cli.output import stderr
from modelrepo.modeldir.graph import GraphError, is_graph_dir
from wrappers.core.manifest import Manifest


@click.command(epilog="\b\nExample:\n  modelrepo refresh models/* graphs/*")
@model_dirs_argument()
def refresh(model_dirs: tuple[Path, ...]) -> None:
    """Rewrite the files that follow from manifest.json.

    MyModel.py, requirements.txt, .s2i/environment, request.json and deployment.yaml (which
    keeps its image, replicas, workers and threads). Artifacts and manifest stay untouched.
    A graph directory (graphs/NAME) gets its deployment.yaml from its nodes' manifests.
    """
    from modelrepo.modeldir import graph_deployment, servingfiles

    err = stderr()
    for model_dir in model_dirs:
        if is_graph_dir(model_dir):
            try:
                written = [graph_deployment.write(model_dir, deployment_options(model_dir))]
            except GraphError as exc:
                raise Failure(str(exc), ExitCode.USAGE) from exc
        else:
            require_manifest(model_dir)
            options = deployment_options(model_dir)
            written = servingfiles.write(Manifest.read(model_dir), model_dir, options)
        names = ", ".join(str(p.relative_to(model_dir)) for p in written)
        err.print(f"[green]✓[/] {escape(str(model_dir))}: {escape(names)}")
