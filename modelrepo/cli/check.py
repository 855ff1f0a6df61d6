"""``modelrepo check``: verify model directories without serving them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from modelrepo.cli.errors import EXIT_CODES, ExitCode, Failure
from modelrepo.cli.options import model_dirs_argument, require_manifest
from modelrepo.cli.output import spinner, stderr, stdout
from modelrepo.modeldir.check import Report, check_model_dir

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@click.command(
    epilog="""\b
Examples:
  modelrepo check models/sklearn-iris
  modelrepo check models/*          # every model; exit 1 if any fails
"""
    + EXIT_CODES
)
@model_dirs_argument()
def check(model_dirs: tuple[Path, ...]) -> None:
    """Verify model directories without serving them.

    Checks the manifest, the artifacts' sha256, the recorded framework version against the
    installed one, requirements.txt and deployment.yaml, then loads the model with its own
    MyModel class and replays the golden pairs, as every server worker does before it serves.
    A failed row fails the check; a warning (a patch-level framework difference, another
    Python release, no requirements.txt or deployment.yaml) is reported but does not.
    """
    for model_dir in model_dirs:
        require_manifest(model_dir)
    run_checks(list(model_dirs))


def run_checks(model_dirs: list[Path]) -> None:
    """Checks and reports every directory, then fails if any failed."""
    err = stderr()
    failed = []
    for model_dir in model_dirs:
        with spinner(err, f"checking {model_dir}"):
            report = check_model_dir(model_dir)
        show(report)
        if not report.passed:
            failed.append(model_dir)
    if failed:
        raise Failure(
            f"{len(failed)} model director{'y' if len(failed) == 1 else 'ies'} failed the check: "
            + ", ".join(str(d) for d in failed),
            ExitCode.MODEL,
        )


def show(report: Report) -> None:
    """A table of every finding, then each problem on one line a log search finds."""
    out = stdout()
    table = Table(title=f"check {report.model_dir}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for finding in report.findings:
        table.add_row(
            finding.check,
            Text(finding.status, style=STATUS_STYLE[finding.status]),
            Text(finding.detail),
        )
    out.print(table)
    for finding in report.problems:
        out.print(Text(f"{finding.status}: {finding.check}: {finding.detail}"), soft_wrap=True)
    verdict = "[green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    out.print(f"{escape(str(report.model_dir))}: {verdict}")
