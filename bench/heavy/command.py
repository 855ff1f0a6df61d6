"""``modelrepo bench --heavy``: the heavy cases, their peers' environments made when missing."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from bench.heavy import report
from bench.heavy.run import FULL, SMOKE, run_heavy
from bench.heavy.servers import TORCHSERVE_VENV
from bench.servers import MLSERVER_VENV, ROOT


def environment(venv: Path) -> None:
    """Creates a peer's environment (``tools/venv.sh``) unless it is up to date."""
    requirements = venv.parent / "requirements.txt"
    subprocess.run([ROOT / "tools" / "venv.sh", venv, requirements], check=True)


def heavy(quick: bool, out: Path, only: tuple[str, ...], models: tuple[str, ...]) -> Path:
    plan = SMOKE if quick else FULL
    plan = replace(plan, servers=only or plan.servers, models=models or plan.models)
    if "mlserver" in plan.servers:
        environment(MLSERVER_VENV)
    if "torchserve" in plan.servers:
        click.echo("TorchServe's environment (bench/torchserve/.venv), made once ...")
        environment(TORCHSERVE_VENV)
    work_dir = Path(tempfile.mkdtemp(prefix="modelrepo-bench-heavy-"))
    run = run_heavy(plan, work_dir, log=click.echo)
    path = report.write(run, out)
    click.echo(f"\nwrote {path} (work files and server logs in {work_dir})\n")
    click.echo(path.read_text())
    if not all(check.equal for check in run.checks):
        raise click.ClickException("servers disagree with the model: see the checks above")
    return path
