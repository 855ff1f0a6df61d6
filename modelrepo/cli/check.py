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
from modelrepo.modeldir.graph import Graph, GraphError, is_graph_dir
from modelrepo.modeldir.graph_check import check_graph

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@click.command(
    epilog="""\b
Examples:
  modelrepo check models/sklearn-iris
  modelrepo check models/*          # every model; exit 1 if any fails
  modelrepo check graphs/iris-ensemble   # each node, then each parent-child contract
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
    A graph directory (graphs/NAME) checks each node's model directory, then that every
    parent's message fits its child's contract as Seldon's executor passes it.
    """
    for model_dir in model_dirs:
        if not is_graph_dir(model_dir):
            require_manifest(model_dir)
    run_checks(list(model_dirs))


def run_checks(model_dirs: list[Path]) -> None:
    """Checks and reports every directory, then fails if any failed."""
    err = stderr()
    failed = []
    for model_dir in model_dirs:
        for checked in _with_nodes(model_dir):
            with spinner(err, f"checking {checked}"):
                report = check_graph(checked) if is_graph_dir(checked) else check_model_dir(checked)
            show(report)
            if not report.passed:
                failed.append(checked)
    if failed:
        raise Failure(
            f"{len(failed)} director{'y' if len(failed) == 1 else 'ies'} failed the check: "
            + ", ".join(str(d) for d in failed),
            ExitCode.MODEL,
        )


def _with_nodes(path: Path) -> list[Path]:
    """A model directory; or a graph's model directories, each once, then the graph."""
    if not is_graph_dir(path):
        return [path]
    try:
        graph = Graph.read(path)
    except GraphError:
        return [path]  # check_graph reports why
    return [*dict.fromkeys(graph.model_dir(node) for node in graph.nodes()), path]


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
