"""``python -m wrappers.server.launch``: ``seldon-core-microservice`` bound to a chosen address.

Seldon Core 1.18.2 binds its REST, metrics and gRPC servers to 0.0.0.0 and offers no option to
change that. This runs Seldon's own ``main`` with every other argument after applying
``wrappers.server.patches`` with the chosen host (plain ``seldon-core-microservice`` gets the
same patches, bound to 0.0.0.0).
"""

from __future__ import annotations

import sys

import click

from wrappers.server import patches
from wrappers.server.bind import ALL_INTERFACES
from wrappers.settings import ServerSettings


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
    patches.apply(microservice, host, ServerSettings.from_env())
    sys.argv = ["seldon-core-microservice", *seldon_args]
    microservice.main()


if __name__ == "__main__":
    main()
