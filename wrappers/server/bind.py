"""The address Seldon's servers listen on.

Seldon Core 1.18.2 binds its REST, metrics and gRPC servers to a hard-coded 0.0.0.0 and offers
no option to change that. ``rebound`` and ``rebound_grpc`` keep the port Seldon chose and put
the launcher's ``--host`` in place of its host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Seldon's own host, which plain ``seldon-core-microservice`` keeps
ALL_INTERFACES = "0.0.0.0"


def address(host: str, port: int | str) -> str:
    """``host:port`` as gunicorn and gRPC expect it, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def rehost(bind: str, host: str) -> str:
    """Keeps the port Seldon chose and replaces its hard-coded host."""
    return address(host, bind.rsplit(":", 1)[1])


def rebound(application: type, host: str) -> type:
    """Seldon's gunicorn ``application`` class, listening on ``host``."""

    class Rebound(application):  # type: ignore[misc, valid-type]
        options: dict[str, Any]

        def load_config(self) -> None:
            self.options = {**self.options, "bind": rehost(self.options["bind"], host)}
            super().load_config()

    Rebound.__name__ = Rebound.__qualname__ = application.__name__
    return Rebound


def rebound_grpc(run_grpc_server: Callable[..., None], host: str) -> Callable[..., None]:
    """Seldon's ``_run_grpc_server`` (whose last argument is its address), listening on
    ``host``."""

    def run_rebound_grpc_server(*args: Any) -> None:
        *head, bind_address = args
        rebound_address = rehost(bind_address, host)
        logger.info("gRPC server listening at %s (Seldon's %s)", rebound_address, bind_address)
        run_grpc_server(*head, rebound_address)

    return run_rebound_grpc_server
