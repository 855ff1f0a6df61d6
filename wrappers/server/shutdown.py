"""How the server's processes drain and stop on SIGTERM (applied by ``wrappers.server.patches``).

Seldon Core 1.18.2 runs gunicorn's REST arbiter in the main process and forks a gRPC parent
(which forks the gRPC workers) and a metrics server. On SIGTERM gunicorn closed the REST port at
once, the gRPC workers ignored it (they only stop on Ctrl-C) and the main process then waited for
the gRPC parent forever. Here every process follows ``wrappers.server.drain``: a SIGTERM begins the
drain; at its deadline each server stops accepting, finishes the requests it holds (up to
``finish_seconds``) and exits, and the main process exits 0 once its children have.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from wrappers.server import drain
from wrappers.settings import ServerSettings

logger = logging.getLogger(__name__)

#: the gRPC and metrics servers, signalled by the REST arbiter when the drain ends
_siblings: list[multiprocessing.Process] = []


class DrainingArbiter(Arbiter):
    """gunicorn's arbiter, for which SIGTERM begins the drain and its deadline stops.

    It runs ``worker``, given as a class: gunicorn 20.1 takes a class for its ``worker_class``
    setting but then reads the setting as a string when it logs it."""

    def __init__(self, app: Any, worker: type[Worker]) -> None:
        self.serving_worker = worker
        super().__init__(app)

    def setup(self, app: Any) -> None:
        super().setup(app)
        self.worker_class = self.serving_worker
        logger.info("gunicorn workers: %s", self.worker_class.__qualname__)

    def handle_term(self) -> None:
        state = _state()
        if state.stops_on_sigterm():
            self._stop()
        state.begin()
        logger.info(
            "SIGTERM: draining for %.1fs (health 503, still serving), then stopping",
            state.remaining(),
        )

    def sleep(self) -> None:
        state = _state()
        if state.over():
            self._stop()
        try:
            ready, _, _ = select.select([self.PIPE[0]], [], [], min(1.0, state.remaining()))
            if ready:
                while os.read(self.PIPE[0], 1):
                    pass
        except (InterruptedError, BlockingIOError, OSError):
            pass

    def _stop(self) -> None:
        """Stops the other servers too; gunicorn's ``halt`` then stops this one gracefully."""
        _signal(_siblings, signal.SIGTERM)
        raise StopIteration


class Draining:
    """Mixin for Seldon's gunicorn applications: our worker and arbiter, the finish time."""

    options: dict[str, Any]
    serving_worker: type[Worker]

    def load_config(self) -> None:
        graceful = math.ceil(_state().settings.finish_seconds)
        self.options = {**self.options, "graceful_timeout": graceful}
        super().load_config()  # type: ignore[misc]

    def run(self) -> None:
        try:
            DrainingArbiter(self, self.serving_worker).run()
        except RuntimeError as error:
            print(f"\nError: {error}\n", file=sys.stderr)
            sys.exit(1)


def draining(application: type, worker: type[Worker]) -> type:
    """Seldon's gunicorn ``application`` class, run by the draining arbiter with ``worker``."""
    return type(application.__name__, (Draining, application), {"serving_worker": worker})


def start_servers(
    rest: Callable[[], None],
    grpc: Callable[[], None] | None,
    unused: Callable[[], None] | None,
    metrics: Callable[[], None] | None,
) -> None:
    """Seldon's ``start_servers``, but the children are stopped and awaited when REST stops."""
    children = []
    for target, daemon in ((grpc, False), (metrics, True)):
        if target is not None:
            child = multiprocessing.Process(target=target, daemon=daemon)
            child.start()
            children.append(child)
    _siblings[:] = children
    owner = os.getpid()
    try:
        rest()
        status = 0
    except SystemExit as stopped:
        if os.getpid() != owner:  # a gunicorn worker, forked inside ``rest``
            raise
        status = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    finally:
        if os.getpid() == owner:
            _stop_children(children)
    exit_now(status)


def exit_now(status: int) -> None:
    """Exits without the interpreter's final garbage collection, which takes seconds in a
    process holding a framework's objects and delays the pod's end for nothing."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def _stop_children(servers: list[multiprocessing.Process]) -> None:
    """Stops the servers, then what is left: the metrics' ``multiprocessing.Manager``, which
    ignores SIGTERM and has nothing to save."""
    _signal(servers, signal.SIGTERM)
    limit = time.monotonic() + _state().settings.finish_seconds + 5
    for server in servers:
        server.join(max(0.0, limit - time.monotonic()))
    _signal(multiprocessing.active_children(), signal.SIGKILL)


def forwarding_sigterm(grpc_parent: Callable[[], None]) -> Callable[[], None]:
    """The gRPC parent only waits for its workers: it passes SIGTERM on to them.

    A worker inherits this handler and keeps it while it loads the model, until
    ``serve_grpc_until_drained`` installs its own: a SIGTERM then begins the drain, which the
    worker finds once it serves, instead of being passed to the worker's own (no) children."""

    def run() -> None:
        parent = os.getpid()

        def forward(signum: int, frame: Any) -> None:
            if os.getpid() == parent:
                _signal(multiprocessing.active_children(), signal.SIGTERM)
            else:
                _state().begin()

        signal.signal(signal.SIGTERM, forward)
        grpc_parent()

    return run


def serve_grpc_until_drained(server: Any) -> None:
    """Replaces Seldon's ``_wait_forever`` in each gRPC worker: serve through the drain, then
    stop gracefully (new calls refused, calls in flight finished).

    The handler only begins the drain, and the loop polls for it: a handler that takes a lock
    (``threading.Event.set``) deadlocks when the signal lands while this thread holds it."""

    def on_term(signum: int, frame: Any) -> None:
        _state().begin()

    signal.signal(signal.SIGTERM, on_term)
    try:
        while not _state().draining:
            time.sleep(0.1)
    except KeyboardInterrupt:
        server.stop(None)
        return
    time.sleep(_state().remaining())
    grace = _state().settings.finish_seconds
    logger.info("gRPC server %d stops: calls in flight may take %.0fs", os.getpid(), grace)
    server.stop(grace=grace).wait()
    logger.info("gRPC server %d stopped", os.getpid())


def begin_drain_on_sigterm(settings: ServerSettings) -> None:
    """Installs the drain state; until each server installs its own handler (a SIGTERM may
    come while Seldon starts them), a SIGTERM begins the drain, which each server then
    follows."""
    state = drain.install(settings)
    signal.signal(signal.SIGTERM, lambda signum, frame: state.begin())


def forwarding_grpc_parent(
    make_grpc_server: Callable[..., Callable[[], None]],
) -> Callable[..., Callable[[], None]]:
    """Seldon's ``_make_grpc_server``, whose gRPC parent passes SIGTERM on to its workers."""

    def make_forwarding_grpc_server(*args: Any, **kwargs: Any) -> Callable[[], None]:
        return forwarding_sigterm(make_grpc_server(*args, **kwargs))

    return make_forwarding_grpc_server


def _state() -> drain.DrainState:
    state = drain.state()
    assert state is not None, "begin_drain_on_sigterm() installs the drain state first"
    return state


def _signal(processes: list[multiprocessing.Process], signum: int) -> None:
    for process in processes:
        if process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signum)
