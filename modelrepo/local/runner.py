"""One shape for everything run here: start, wait until ready, stop, and never leak on failure.

The microservice (a process group), a container (podman) and the test API server each say how to
start, how to tell they are ready or dead, how to show their logs and how to stop; ``Runner``
does the waiting and guarantees that whatever was started is stopped when starting or waiting
fails, so a failed start leaves no process behind.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self

#: what a readiness check may raise while the thing it asks is still coming up
NOT_YET: tuple[type[BaseException], ...] = (OSError, TimeoutError)


class Runner(ABC):
    """Something started here and stopped by its owner, used as a context manager."""

    #: how long ``wait_ready`` waits by default
    ready_timeout: float = 120.0

    @abstractmethod
    def start(self) -> Self:
        """Starts it without waiting."""

    @abstractmethod
    def ready(self) -> bool:
        """Whether it answers as it should once started."""

    @abstractmethod
    def exited(self) -> str | None:
        """Why it is gone (an exit code, a state), or None while it runs."""

    @abstractmethod
    def stop(self) -> None:
        """Stops whatever was started; safe to call after a partial start, and twice."""

    def logs(self) -> str:
        """The end of its output, for the error that says why it did not start."""
        return ""

    def wait_ready(self, timeout: float | None = None) -> Self:
        wait_until(self.ready, self.exited, timeout or self.ready_timeout, self.describe, self.logs)
        return self

    def describe(self) -> str:
        return type(self).__name__

    def __enter__(self) -> Self:
        try:
            return self.start().wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until(
    ready: Callable[[], bool],
    exited: Callable[[], str | None],
    timeout: float,
    what: Callable[[], str],
    logs: Callable[[], str],
    interval: float = 0.2,
) -> None:
    """Polls ``ready`` until it holds; raises as soon as ``exited`` says it is gone, or when
    ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = exited()
        if gone is not None:
            raise RuntimeError(f"{what()} {gone}{_tail(logs())}")
        try:
            if ready():
                return
        except NOT_YET:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what()} not ready after {timeout:.0f}s{_tail(logs())}")


def _tail(text: str) -> str:
    return f"\n{text[-3000:]}" if text else ""
