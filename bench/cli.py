"""``modelrepo bench``: the whole benchmark (or a smoke test of it) from one command."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import click

RESULTS = Path(__file__).resolve().parent / "results"


@click.command("bench")
@click.option("--quick", is_flag=True, help="One short case per server: a smoke test.")
@click.option(
    "--ablation",
    is_flag=True,
    help="Each model from Seldon's defaults to its deployed settings, one change at a time.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where results.md/.png/.json go [default: {RESULTS}, or its quick/ or ablation/]",
)
@click.option("--only", multiple=True, help="Run only these servers (keys as in the table).")
@click.option(
    "--heavy",
    is_flag=True,
    help="The models whose own work dominates (torch-resnet18, minilm-embeddings) against "
    "MLServer, TorchServe, a naive Seldon class and the model in process; --only takes "
    "ours, naive, mlserver, torchserve.",
)
@click.option("--model", "models", multiple=True, help="With --heavy: only these models.")
def bench(
    quick: bool,
    ablation: bool,
    out: Path | None,
    only: tuple[str, ...],
    heavy: bool,
    models: tuple[str, ...],
) -> None:
    """Serve every model and its baselines side by side and measure them under load."""
    from bench import harness, report
    from bench.servers import MLSERVER_VENV, ROOT

    if heavy:
        from bench.heavy.command import heavy as run_heavy

        run_heavy(quick, out or RESULTS / ("heavy-quick" if quick else "heavy"), only, models)
        return

    # a SIGTERM unwinds like Ctrl-C, so the servers started so far are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    work_dir = harness.default_work_dir()
    suite = harness.ablation_servers() if ablation else harness.standard_servers(work_dir)
    servers = [s for s in suite if not only or s.key in only]
    if (
        any(s.key == "mlserver" for s in servers)
        and not (MLSERVER_VENV / "bin" / "mlserver").exists()
    ):
        click.echo("creating MLServer's environment (bench/mlserver/.venv) ...")
        requirements = MLSERVER_VENV.parent / "requirements.txt"
        subprocess.run([ROOT / "tools" / "venv.sh", MLSERVER_VENV, requirements], check=True)
    plan = harness.QUICK if quick else harness.ABLATION if ablation else harness.FULL
    run = harness.run_benchmark(servers, plan, work_dir, log=click.echo)
    default = RESULTS / "quick" if quick else RESULTS / "ablation" if ablation else RESULTS
    path = report.write(run, out or default, targets=not ablation)
    click.echo(f"\nwrote {path} (work files and server logs in {work_dir})\n")
    click.echo(path.read_text())
    if not all(check.equal for check in run.checks):
        raise click.ClickException("servers disagree on predictions: see the checks above")
