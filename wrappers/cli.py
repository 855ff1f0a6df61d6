"""``modelrepo``: work with the model directories of this repository from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli import bench
from wrappers.errors import ManifestError
from wrappers.manifest import MANIFEST_FILE, Manifest


@click.group()
def main() -> None:
    """Serve, check, list and benchmark Seldon Core model directories."""


main.add_command(bench)


@main.command("list")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default="models"
)
def list_models(root: Path) -> None:
    """List the model directories below ROOT with framework, version and artifact status."""
    for manifest_path in sorted(root.glob(f"*/{MANIFEST_FILE}")):
        model_dir = manifest_path.parent
        try:
            manifest = Manifest.read(model_dir)
        except ManifestError as exc:
            click.echo(f"{model_dir.name:24} invalid manifest: {exc}")
            continue
        problems = manifest.artifact_mismatches(model_dir)
        status = "ok" if not problems else f"{len(problems)} artifact problem(s)"
        click.echo(
            f"{manifest.name:24} {manifest.framework:11} {manifest.framework_version:12} "
            f"v{manifest.version:4} {status}"
        )
