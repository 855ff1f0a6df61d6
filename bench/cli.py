"""``modelrepo bench``: the whole benchmark (or a smoke test of it) from one command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

RESULTS = Path(__file__).resolve().parent / "results"


@click.command("bench")
@click.option("--quick", is_flag=True, help="One short case per server: a smoke test.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where results.md/.png/.json go [default: {RESULTS} ({RESULTS / 'quick'} with --quick)]",
)
@click.option("--only", multiple=True, help="Run only these servers (keys as in the table).")
def bench(quick: bool, out: Path | None, only: tuple[str, ...]) -> None:
    """Serve every model and its baselines side by side and measure them under load."""
    from bench import harness, report
    from bench.servers import MLSERVER_VENV

    work_dir = harness.default_work_dir()
    servers = [s for s in harness.standard_servers(work_dir) if not only or s.key in only]
    if (
        any(s.key == "mlserver" for s in servers)
        and not (MLSERVER_VENV / "bin" / "mlserver").exists()
    ):
        click.echo("creating MLServer's environment (bench/mlserver/.venv) ...")
        subprocess.run([str(MLSERVER_VENV.parent / "setup.sh")], check=True)
    plan = harness.QUICK if quick else harness.FULL
    run = harness.run_benchmark(servers, plan, work_dir, log=click.echo)
    path = report.write(run, out or (RESULTS / "quick" if quick else RESULTS))
    click.echo(f"\nwrote {path} (work files and server logs in {work_dir})\n")
    click.echo(path.read_text())
    if not all(check.equal for check in run.checks):
        raise click.ClickException("servers disagree on predictions: see the checks above")
