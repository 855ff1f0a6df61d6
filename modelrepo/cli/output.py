"""Where the commands write: results on stdout, progress and notes on stderr, both readable in
a terminal and in a CI log."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape

from modelrepo.modeldir.request import Step

#: width for output that goes to a file or a pipe (CI logs), where rich would assume 80
LOG_WIDTH = 120


def console(stderr: bool = False) -> Console:
    terminal = Console(stderr=stderr, highlight=False)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, highlight=False, width=LOG_WIDTH, soft_wrap=True)


def stdout() -> Console:
    return console()


def stderr() -> Console:
    return console(stderr=True)


def spinner(out: Console, text: str) -> contextlib.AbstractContextManager[Any]:
    """A spinner on a terminal; nothing in a log, where it would only add noise."""
    return out.status(escape(text)) if out.is_terminal else contextlib.nullcontext()


def progress(out: Console) -> Step:
    """Shows each long step with a spinner while it runs and its duration once done."""

    @contextlib.contextmanager
    def step(text: str) -> Iterator[None]:
        started = time.perf_counter()
        with spinner(out, text):
            yield
        out.print(f"[green]✓[/] {escape(text)} [dim]({time.perf_counter() - started:.1f}s)[/]")

    return step
