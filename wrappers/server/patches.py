"""Every change made to Seldon Core 1.18.2, in one ordered list, applied once per process.

Seldon's ``microservice.main`` imports the user class and constructs the user object, and only
then builds the metrics store, the REST app, the gRPC server and the gunicorn applications and
starts them, looking each of those names up in its modules as it goes. Replacing the names
before that point changes the servers it starts and every process they fork, and leaves the
rest of Seldon as it is. Two ways in, one list:

* ``python -m wrappers.server.launch`` calls ``apply`` with its ``--host`` before ``main``;
* plain ``seldon-core-microservice MyModel`` (what Seldon's s2i images run) reaches
  ``apply_under_seldon`` when ``main`` constructs the user class (``server.component``); it
  keeps Seldon's 0.0.0.0.

The functions doing the work live in their modules; ``seldon_patches`` says what each replaces,
why, and in which order.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from types import FrameType, ModuleType
from typing import Any

from wrappers.server import bind, metrics, observe, seldon_grpc, shutdown, v2_grpc
from wrappers.server.http_worker import ServingWorker
from wrappers.settings import ServerSettings

logger = logging.getLogger(__name__)

#: where Seldon's entry point lives, however it was started (console script or ``-m``)
MICROSERVICE_FILE = ("seldon_core", "microservice.py")

_applied = False


@dataclass(frozen=True)
class Patch:
    """``module.name`` replaced by ``replace(module.name)``, for the reason ``why``."""

    module: ModuleType
    name: str
    replace: Callable[[Any], Any]
    why: str

    def apply(self) -> None:
        setattr(self.module, self.name, self.replace(getattr(self.module, self.name)))


def seldon_patches(microservice: ModuleType, host: str) -> list[Patch]:
    """The replacements, in order (a later one of the same name wraps the earlier one)."""
    from seldon_core import metrics as seldon_metrics
    from seldon_core import wrapper

    def workers(application: type) -> type:
        return shutdown.draining(application, ServingWorker)

    return [
        Patch(seldon_metrics, "BINS", lambda _: metrics.LATENCY_BUCKETS,
              "TIMER buckets from 10 µs: a small model answers below Seldon's first (1 ms)"),
        Patch(microservice, "SeldonMetrics", metrics.kept_in_workers,
              "each worker keeps its custom metrics instead of six Manager round trips a "
              "request, behind a lock a killed worker cannot leave held; labelled by model"),
        Patch(wrapper, "SeldonModelGRPC", seldon_grpc.with_status_codes,
              "a refused gRPC request ends with its status code, not UNKNOWN"),
        Patch(wrapper, "SeldonModelGRPC", observe.observed_grpc,
              "gRPC predictions counted by status code: over the servicer that sets them"),
        Patch(microservice, "_make_rest_server_prod", observe.labelling,
              "metrics labelled with the manifest's name and version, not NOT_IMPLEMENTED"),
        Patch(microservice, "_make_rest_server_debug", observe.labelling,
              "the same labels under --debug"),
        Patch(wrapper, "get_rest_microservice", observe.observed_rest,
              "REST predictions counted by status code, V2 ones measured, payloads logged"),
        Patch(v2_grpc, "InferenceServicer", observe.observed_v2_grpc,
              "V2 gRPC inferences counted, measured and logged as the others are"),
        Patch(wrapper, "get_grpc_server", v2_grpc.with_v2,
              "the V2 inference service on Seldon's gRPC port, beside Seldon's own"),
        Patch(microservice, "UserModelApplication", workers,
              "REST workers that read requests whole before a thread takes them and drain "
              "on SIGTERM instead of closing the port at once"),
        Patch(microservice, "StandaloneApplication", workers,
              "the metrics server drains and stops with the others"),
        Patch(microservice, "start_servers", lambda _: shutdown.start_servers,
              "the gRPC and metrics servers are stopped and awaited when REST stops"),
        Patch(microservice, "_wait_forever", lambda _: shutdown.serve_grpc_until_drained,
              "gRPC workers drain and stop on SIGTERM: Seldon's only stop on Ctrl-C"),
        Patch(microservice, "_make_grpc_server", shutdown.forwarding_grpc_parent,
              "the gRPC parent passes SIGTERM on to its workers"),
        Patch(microservice, "UserModelApplication", lambda app: bind.rebound(app, host),
              "REST listens on the chosen host: Seldon hard-codes 0.0.0.0"),
        Patch(microservice, "StandaloneApplication", lambda app: bind.rebound(app, host),
              "metrics listen on the chosen host"),
        Patch(microservice, "_run_grpc_server", lambda run: bind.rebound_grpc(run, host),
              "gRPC listens on the chosen host"),
    ]  # fmt: skip


def apply(
    microservice: ModuleType,
    host: str = bind.ALL_INTERFACES,
    settings: ServerSettings | None = None,
) -> bool:
    """Applies ``seldon_patches`` to the running ``microservice`` module unless they already
    are; returns whether it did."""
    global _applied
    if _applied:
        return False
    _applied = True
    shutdown.begin_drain_on_sigterm(settings or ServerSettings.from_env())
    patches = seldon_patches(microservice, host)
    for patch in patches:
        patch.apply()
    logger.info("%d changes made to seldon_core; servers bound to %s", len(patches), host)
    return True


def apply_under_seldon() -> bool:
    """Applies the patches when Seldon's ``microservice.main`` is constructing the user object:
    plain ``seldon-core-microservice`` builds its servers only after that."""
    if _applied:
        return False
    microservice = running_microservice(sys._getframe(1))
    return microservice is not None and apply(microservice)


def running_microservice(frame: FrameType | None) -> ModuleType | None:
    """The module whose ``main`` is on the stack above ``frame``: ``seldon_core.microservice``,
    or ``__main__`` under ``python -m seldon_core.microservice``."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and PurePath(code.co_filename).parts[-2:] == MICROSERVICE_FILE:
            return sys.modules.get(frame.f_globals.get("__name__", ""))
        frame = frame.f_back
    return None
