"""``modelrepo predict``: one request to a server or to a directory loaded in-process."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelrepo.cli.errors import EXIT_CODES
from modelrepo.cli.options import names_option, require_manifest


@click.command(
    epilog="""\b
Examples:
  modelrepo predict models/sklearn-iris                      # its request.json, in-process
  modelrepo predict models/sklearn-iris --data '[[5.1, 3.5, 1.4, 0.2]]'
  modelrepo predict http://127.0.0.1:9000 --data '[[5.1, 3.5, 1.4, 0.2]]'
  modelrepo predict 127.0.0.1:5000 --grpc --file models/sklearn-iris/request.json
"""
    + EXIT_CODES
)
@click.argument("target")
@click.option("-d", "--data", help="Rows as JSON ([[...]]) or a whole Seldon message.")
@click.option(
    "--file",
    "data_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON request file such as request.json.",
)
@click.option("--names", callback=names_option, help="Feature names of the rows: a,b,c.")
@click.option("--grpc", is_flag=True, help="TARGET is host:port of the gRPC server.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
def predict(
    target: str,
    data: str | None,
    data_file: Path | None,
    names: list[str] | None,
    grpc: bool,
    timeout: float,
) -> None:
    """Send one prediction request and print the answer as JSON.

    TARGET is a server (http://host:port for REST, host:port with --grpc) or a model
    directory, which is loaded in this process; without --data a directory answers its
    request.json.
    """
    from modelrepo.modeldir import client

    local = Path(target).is_dir()
    if local:
        require_manifest(Path(target))
        if grpc:
            raise click.BadParameter("--grpc needs a server address, not a directory")
    if data and data_file:
        raise click.UsageError("give --data or --file, not both")
    text = data or (data_file.read_text() if data_file else None)
    if text is None and local:
        default = Path(target) / "request.json"
        text = default.read_text() if default.is_file() else None
    if text is None:
        raise click.UsageError("no request: pass --data '[[...]]' or --file request.json")
    try:
        body = client.load_body(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--data/--file") from exc
    if names:
        body["data"]["names"] = names
    if local:
        answer = client.predict_local(Path(target), body)
    elif grpc:
        try:
            address = client.grpc_target(target)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET") from exc
        answer = client.predict_grpc(address, body, timeout)
    else:
        if not target.startswith(("http://", "https://")):
            raise click.BadParameter(
                "expected a model directory or http://host:port (or host:port with --grpc)",
                param_hint="TARGET",
            )
        answer = client.predict_rest(target, body, timeout)
    click.echo(json.dumps(answer, indent=2))
