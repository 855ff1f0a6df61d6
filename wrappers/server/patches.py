"""Contained corrections to Seldon Core 1.18.2's servers, applied by ``wrappers.server.launch``.

Each replaces one name in a Seldon module, in the launching process only (its forked servers
inherit it), and leaves the rest of Seldon as it is:

* ``bind_to``: Seldon binds REST (gunicorn), metrics (gunicorn) and gRPC to a hard-coded
  0.0.0.0; the gunicorn application classes and the gRPC worker function are swapped for ones
  that keep Seldon's ports and use the chosen host.
* ``map_grpc_errors``: a refused gRPC request ends with UNKNOWN; the servicer is swapped for one
  that answers Seldon's errors with the status code of ``wrappers.errors.grpc_status`` and
  their (bounded) message.

``wrappers.server.metrics`` holds the third: how workers record their custom metrics.
"""

from __future__ import annotations

import logging
from typing import Any

from wrappers.errors import answer_grpc

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
            return answer_grpc(context, super().Predict, request, context)

        def SendFeedback(self, request: Any, context: Any) -> Any:
            return answer_grpc(context, super().SendFeedback, request, context)

    wrapper.SeldonModelGRPC = StatusCodes
