"""``modelrepo list``: the models below a directory and whether they would load."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from modelrepo.cli.output import stdout
from wrappers import wrapper_for
from wrappers.core.manifest import MANIFEST_FILE, Manifest
from wrappers.errors import ManifestError


@click.command("list", epilog="\b\nExample:\n  modelrepo list models")
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
