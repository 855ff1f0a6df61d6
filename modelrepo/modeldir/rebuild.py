"""The command line of a committed model directory's ``train.py``: every one trains, saves its
artifact as a user would, and builds its directory with ``modelrepo new``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import click

from wrappers.core.manifest import Manifest

#: places a directory's uncommitted artifacts (too large for git) in it, as the manifest pins them
Place = Callable[[Path], None]


def rebuild_command(
    name: str,
    description: str,
    make: Callable[[Path], list[str]],
    model_dir: Path,
    place: Place | None = None,
    tuning: Mapping[str, str] | None = None,
) -> click.Command:
    """``make`` trains and saves the user's artifact and sample in a temporary directory and
    returns the ``modelrepo new`` arguments for them; ``modelrepo new`` then runs as a user
    would run it (its own process) and its directory is copied into ``--out``, beside the files
    it does not write (train.py, README.md), with no stale artifact directory left behind.

    ``tuning`` are serving variables chosen for this model (micro-batching, gRPC threads),
    written to ``.s2i/environment`` after the standard ones.

    A directory whose artifacts are not committed passes ``place``: ``--artifacts-only`` then
    writes just them beside the committed manifest and checks each against its sha256."""

    @click.command()
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=model_dir)
    @click.option(
        "--artifacts-only",
        is_flag=True,
        help="Only place the artifacts the committed manifest pins, and check their hashes.",
    )
    def main(out: Path, artifacts_only: bool) -> None:
        if artifacts_only:
            place_artifacts(name, out, place)
            return
        with tempfile.TemporaryDirectory() as tmp:
            made = Path(tmp) / "model"
            args = make(Path(tmp))
            flags = ["--name", name, "--description", description]
            command = [sys.executable, "-m", "modelrepo.cli", "new", str(made), *args, *flags]
            subprocess.run(command, check=True)
            if tuning:
                write_tuning(made, tuning)
            out.mkdir(parents=True, exist_ok=True)
            for directory in (p for p in made.iterdir() if p.is_dir()):
                shutil.rmtree(out / directory.name, ignore_errors=True)
            shutil.copytree(made, out, dirs_exist_ok=True)
        click.echo(f"{name} written to {out}")

    return main


def train_module(model_dir: Path) -> ModuleType:
    """Another model directory's ``train.py`` as a module: models trained on the same data
    (a pipeline split into graph nodes, two versions of one model) share its code."""
    path = Path(model_dir) / "train.py"
    spec = importlib.util.spec_from_file_location(f"train_{Path(model_dir).name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def place_artifacts(name: str, model_dir: Path, place: Place | None) -> None:
    """Writes the uncommitted artifacts unless they are in place already; refuses any whose
    sha256 differs from the manifest's, as the server would."""
    if place is None:
        raise click.UsageError(f"{name} commits its artifacts; there is nothing to place")
    manifest = Manifest.read(model_dir)
    if manifest.artifact_mismatches(model_dir):
        place(model_dir)
    problems = manifest.artifact_mismatches(model_dir)
    if problems:
        raise click.ClickException(f"{name}: the placed artifacts differ: {'; '.join(problems)}")
    click.echo(f"{name}: {len(manifest.artifacts)} artifact files in place in {model_dir}")


def write_tuning(model_dir: Path, tuning: Mapping[str, str]) -> None:
    """Adds the model's serving variables to the ``.s2i/environment`` that ``modelrepo new``
    wrote (``modelrepo refresh`` keeps them)."""
    environment = model_dir / ".s2i" / "environment"
    lines = "".join(f"{key}={value}\n" for key, value in tuning.items())
    environment.write_text(environment.read_text() + lines)
