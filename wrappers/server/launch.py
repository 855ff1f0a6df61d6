"""``python -m wrappers.server.launch``: ``seldon-core-microservice`` bound to a chosen address.

Seldon Core 1.18.2 binds its REST, metrics and gRPC servers to 0.0.0.0 and offers no option to
change that. This runs Seldon's own ``main`` with every other argument after applying the
corrections in ``wrappers.server.patches`` (the bind host, gRPC status codes) and
``wrappers.server.metrics`` (metrics kept by each worker, behind a lock a killed worker cannot
leave held), ``wrappers.server.observe`` (metrics labelled with the model, requests counted by
status code, the optional payload log) and ``wrappers.server.shutdown`` (drain on SIGTERM, then stop
every process; REST requests read whole before a thread takes them).
"""

from __future__ import annotations

import sys

import click

from wrappers.server.metrics import keep_metrics_in_workers
from wrappers.server.observe import observe_requests
from wrappers.server.patches import bind_to, map_grpc_errors
from wrappers.server.shutdown import drain_on_sigterm
from wrappers.server.v2_grpc import serve_on_seldon_grpc
from wrappers.settings import ServerSettings

ALL_INTERFACES = "0.0.0.0"


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
    keep_metrics_in_workers()
    observe_requests()  # after map_grpc_errors: it counts the status codes that one sets
    drain_on_sigterm(ServerSettings.from_env())
    serve_on_seldon_grpc()
    sys.argv = ["seldon-core-microservice", *seldon_args]
    microservice.main()


if __name__ == "__main__":
    main()
