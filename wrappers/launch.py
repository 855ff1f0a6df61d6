"""``python -m wrappers.launch``: ``seldon-core-microservice`` with a configurable bind address.

Seldon Core 1.18.2 binds its REST (gunicorn), metrics (gunicorn) and gRPC servers to 0.0.0.0
and offers no option to change that. This launcher runs Seldon's own ``main`` after swapping,
in ``seldon_core.microservice`` only, the two gunicorn application classes for subclasses that
rewrite the ``bind`` option, and the gRPC worker function for one that binds the chosen host.
It also answers gRPC errors with a status code that says whose fault they are
(INVALID_ARGUMENT for a bad request instead of UNKNOWN). Every other argument is Seldon's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
import grpc

ALL_INTERFACES = "0.0.0.0"


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
        run_grpc_server(*head, rehost(bind_address, host))

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


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": ["--launcher-help"],
    }
)
@click.option(
    "--host",
    envvar="MODELREPO_BIND_HOST",
    default=ALL_INTERFACES,
    show_default=True,
    help="Address the REST, gRPC and metrics servers listen on; 127.0.0.1 for loopback only.",
)
@click.argument("seldon_args", nargs=-1, type=click.UNPROCESSED)
def main(host: str, seldon_args: tuple[str, ...]) -> None:
    """Run seldon-core-microservice SELDON_ARGS... bound to HOST."""
    from seldon_core import microservice
    from seldon_core.utils import getenv_as_bool

    debug = "--debug" in seldon_args or getenv_as_bool(microservice.DEBUG_ENV, default=False)
    if debug and host != ALL_INTERFACES:
        raise click.UsageError("Seldon's --debug server always binds 0.0.0.0; drop --debug")
    bind_to(host)
    map_grpc_errors()
    sys.argv = ["seldon-core-microservice", *seldon_args]
    microservice.main()


if __name__ == "__main__":
    main()
