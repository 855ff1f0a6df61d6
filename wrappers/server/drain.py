"""When the server began draining, shared by every process it forks.

``python -m wrappers.server.drain`` is the preStop hook.

A pod being stopped keeps receiving requests until every node has learnt that its endpoint is
gone, which takes seconds after SIGTERM. So a SIGTERM does not stop the server: it begins a
drain of ``drain_seconds`` during which ``/health/status`` answers 503 (readiness fails, the
endpoint is withdrawn) while predictions are still answered; only when it ends do the servers
stop accepting, finish what they hold and exit.

Every process of the server (gunicorn's arbiter and workers, the gRPC and metrics servers) may
receive the SIGTERM — the kubelet signals PID 1 only, ``kill`` of a process group or systemd
signals all of them. Whichever gets it first records the start in memory shared since the fork;
each process then acts on the same deadline.

``python -m wrappers.server.drain`` is the container's preStop hook: it begins the drain (SIGTERM to
the server) and returns when the drain period is over, so the kubelet's own SIGTERM, sent after
the hook, finds a server that is already finishing.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import sys
import time

import click

from wrappers.settings import ServerSettings

#: the servers stop accepting this long after the drain period: a request sent just before
#: its end is still in transit
STRAGGLER_SECONDS = 0.5
#: a SIGTERM this close to the deadline is the arbiter's signal to stop, sent at the deadline
SLACK_SECONDS = 0.25


class DrainState:
    """The drain's start time in anonymous shared memory, inherited by every forked process,
    with the server settings the launcher read."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.seconds = settings.drain_seconds
        self._memory = mmap.mmap(-1, 8)  # MAP_SHARED | MAP_ANONYMOUS: one page for all forks

    @property
    def started(self) -> float:
        """When the drain began (``time.time()``), 0 before."""
        return struct.unpack("d", self._memory[:8])[0]

    def begin(self) -> float:
        """Begins the drain unless it has begun; returns its start."""
        if not self.started:
            self._memory[:8] = struct.pack("d", time.time())
        return self.started

    @property
    def draining(self) -> bool:
        return self.started > 0

    @property
    def deadline(self) -> float:
        """When the servers stop accepting (infinite before the drain begins)."""
        started = self.started
        return started + self.seconds + STRAGGLER_SECONDS if started else float("inf")

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.time())

    def over(self) -> bool:
        return time.time() >= self.deadline

    def stops_on_sigterm(self) -> bool:
        """Whether a SIGTERM now means stop (at the deadline) rather than begin the drain."""
        return time.time() >= self.deadline - SLACK_SECONDS


_state: DrainState | None = None


def install(settings: ServerSettings) -> DrainState:
    """Creates the shared state; called by the launcher before Seldon forks its servers."""
    global _state
    _state = DrainState(settings)
    return _state


def state() -> DrainState | None:
    """The server's drain state, None when not started through ``wrappers.server.launch``."""
    return _state


def draining() -> bool:
    return _state is not None and _state.draining


@click.command()
@click.option("--pid", type=int, default=1, show_default=True, help="The server's process.")
def main(pid: int) -> None:
    """preStop: begin the server's drain and wait until it is over."""
    seconds = ServerSettings.from_env().drain_seconds
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        sys.exit(0)
    time.sleep(seconds)


if __name__ == "__main__":
    main()
