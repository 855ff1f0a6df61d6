"""Three contained corrections to Seldon Core 1.18.2's servers, applied by ``wrappers.launch``.

Each replaces one name in a Seldon module, in the launching process only (its forked servers
inherit it), and leaves the rest of Seldon as it is:

* ``bind_to``: Seldon binds REST (gunicorn), metrics (gunicorn) and gRPC to a hard-coded
  0.0.0.0; the gunicorn application classes and the gRPC worker function are swapped for ones
  that keep Seldon's ports and use the chosen host.
* ``map_grpc_errors``: a refused gRPC request ends with UNKNOWN; the servicer is swapped for one
  that answers Seldon's errors with INVALID_ARGUMENT, UNAVAILABLE, ... and their message.
* ``survive_killed_workers``: ``SeldonMetrics`` guards the metrics all workers share with a
  ``multiprocessing.Manager`` lock, taken several times on every request. A worker killed while
  holding it (SIGKILL, the OOM killer) leaves it held, and every other worker then blocks
  forever on its next request. The lock is swapped for an ``flock`` the kernel releases when
  its holder dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import grpc

logger = logging.getLogger(__name__)


def address(host: str, port: int | str) -> str:
    """``host:port`` as gunicorn and gRPC expect it, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def rehost(bind: str, host: str) -> str:
    """Keeps the port Seldon chose and replaces its hard-coded host."""
    return address(host, bind.rsplit(":", 1)[1])


def bind_to(host: str) -> None:
    """Makes ``seldon_core.microservice`` bind REST, metrics and gRPC to ``host``."""
    from seldon_core import microservice

    class Rebound:
        options: dict[str, Any]

        def load_config(self) -> None:
            self.options = {**self.options, "bind": rehost(self.options["bind"], host)}
            super().load_config()  # type: ignore[misc]

    microservice.UserModelApplication = type(
        "UserModelApplication", (Rebound, microservice.UserModelApplication), {}
    )
    microservice.StandaloneApplication = type(
        "StandaloneApplication", (Rebound, microservice.StandaloneApplication), {}
    )
    run_grpc_server = microservice._run_grpc_server

    def run_rebound_grpc_server(*args: Any) -> None:
        *head, bind_address = args
        rebound = rehost(bind_address, host)
        logger.info("gRPC server listening at %s (Seldon's %s)", rebound, bind_address)
        run_grpc_server(*head, rebound)

    microservice._run_grpc_server = run_rebound_grpc_server


def map_grpc_errors() -> None:
    """Gives gRPC clients the status code of Seldon errors instead of UNKNOWN."""
    from seldon_core import wrapper

    class StatusCodes(wrapper.SeldonModelGRPC):
        def Predict(self, request: Any, context: Any) -> Any:
            return with_status(super().Predict, request, context)

        def SendFeedback(self, request: Any, context: Any) -> Any:
            return with_status(super().SendFeedback, request, context)

    wrapper.SeldonModelGRPC = StatusCodes


def with_status(call: Callable[[Any, Any], Any], request: Any, context: Any) -> Any:
    from seldon_core.flask_utils import SeldonMicroserviceException

    try:
        return call(request, context)
    except SeldonMicroserviceException as error:
        context.abort(grpc_status(error.status_code), str(error.message))


def grpc_status(http_status: int) -> grpc.StatusCode:
    codes = {
        404: grpc.StatusCode.UNIMPLEMENTED,
        413: grpc.StatusCode.RESOURCE_EXHAUSTED,
        503: grpc.StatusCode.UNAVAILABLE,
    }
    if http_status in codes:
        return codes[http_status]
    return grpc.StatusCode.INTERNAL if http_status >= 500 else grpc.StatusCode.INVALID_ARGUMENT


class ProcessSafeLock:
    """A lock for the processes forked from its creator that dies with its holder.

    ``flock(2)`` locks belong to an open file description and are dropped when the last
    descriptor to it closes, as it does when a process dies. Each process therefore opens the
    (already unlinked) file anew through ``/proc/self/fd``; a thread lock adds exclusion between
    the threads of one process, which share their description.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the lock
        self._owner = -1
        self._fd = -1
        self._threads = threading.Lock()

    def _descriptor(self) -> int:
        if self._owner != os.getpid():
            self._fd = os.open(f"/proc/self/fd/{self._file.fileno()}", os.O_RDWR)
            self._owner, self._threads = os.getpid(), threading.Lock()
        return self._fd

    def __enter__(self) -> ProcessSafeLock:
        descriptor = self._descriptor()
        self._threads.acquire()
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def survive_killed_workers() -> None:
    """Swaps ``SeldonMetrics``' Manager lock for a ``ProcessSafeLock``."""
    from seldon_core import microservice

    class SeldonMetrics(microservice.SeldonMetrics):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._lock = ProcessSafeLock()

    microservice.SeldonMetrics = SeldonMetrics
