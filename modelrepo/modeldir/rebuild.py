"""The command line of a committed model directory's ``train.py``: every one trains, saves its
artifact as a user would, and builds its directory with ``modelrepo new``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import click


def rebuild_command(
    name: str, description: str, make: Callable[[Path], list[str]], model_dir: Path
) -> click.Command:
    """``make`` trains and saves the user's artifact and sample in a temporary directory and
    returns the ``modelrepo new`` arguments for them; ``modelrepo new`` then runs as a user
    would run it (its own process) and its directory is copied into ``--out``, beside the files
    it does not write (train.py, README.md), with no stale artifact directory left behind."""

    @click.command()
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=model_dir)
    def main(out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            made = Path(tmp) / "model"
            args = make(Path(tmp))
            flags = ["--name", name, "--description", description]
            command = [sys.executable, "-m", "modelrepo.cli", "new", str(made), *args, *flags]
            subprocess.run(command, check=True)
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
