"""``modelrepo``: from a trained artifact to a served, checked, deployable model directory.

One module per command; each is thin, the work being done in ``modelrepo.modeldir`` and
``modelrepo.local``. The group turns their errors into one-line messages and exit codes that
scripts can rely on (``errors``).
"""

from __future__ import annotations

import logging
import os

import click

from modelrepo.cli import check, deploy, listing, new, predict, refresh, serve
from modelrepo.cli.errors import EXIT_CODES, FriendlyGroup


@click.group(cls=FriendlyGroup, epilog=EXIT_CODES)
@click.version_option(package_name="modelrepo")
def main() -> None:
    """Make, check, serve and deploy Seldon Core model directories.

    \b
    From a model saved with joblib.dump(model, "m.joblib") to a served, checked directory:
      modelrepo new my-model --framework sklearn --artifact m.joblib
      modelrepo serve my-model

    Run `modelrepo COMMAND --help` for each command's options and examples.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the reports say what the wrappers would log; a server keeps its logging
    logging.getLogger("wrappers").setLevel(logging.CRITICAL)


for command in (
    new.new,
    check.check,
    serve.serve,
    predict.predict,
    listing.list_models,
    deploy.deploy,
    refresh.refresh,
):
    main.add_command(command)

try:  # the benchmark ships with the repository, not with the serving images
    from bench.cli import bench
except ImportError:
    pass
else:
    main.add_command(bench)
