"""``python -m wrappers.launch``: ``seldon-core-microservice`` bound to a chosen address.

Seldon Core 1.18.2 binds its REST, metrics and gRPC servers to 0.0.0.0 and offers no option to
change that. This runs Seldon's own ``main`` with every other argument after applying the
corrections in ``wrappers.seldon_patches`` (the bind host, gRPC status codes) and
``wrappers.worker_metrics`` (metrics kept by each worker, behind a lock a killed worker cannot
leave held), ``wrappers.request_hooks`` (metrics labelled with the model, requests counted by
status code, the optional payload log) and ``wrappers.shutdown`` (drain on SIGTERM, then stop
every process; REST requests read whole before a thread takes them).
"""

from __future__ import annotations

import sys

import click

from wrappers.request_hooks import observe_requests
from wrappers.seldon_patches import bind_to, map_grpc_errors
from wrappers.settings import ServerSettings
from wrappers.shutdown import drain_on_sigterm
from wrappers.v2.grpc_service import serve_on_seldon_grpc
from wrappers.worker_metrics import keep_metrics_in_workers

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
